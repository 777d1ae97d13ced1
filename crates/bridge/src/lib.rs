//! catwalk-bridge
