//! BitSwap: wire protocol, ledger, send strategy and sessions (filled by the BitSwap issue).
