//! catwalk-runtime
