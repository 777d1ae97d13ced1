//! catwalk-analyze
