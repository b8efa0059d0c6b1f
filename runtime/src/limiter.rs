//! The exact sliding-window rate limiter (issue 6).
