//! catwalk-gateway
