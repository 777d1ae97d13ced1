//! catwalk-store
