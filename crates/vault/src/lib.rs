//! catwalk-vault
