//! catwalk-server
