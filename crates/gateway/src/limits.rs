//! Rate limits on the MCP endpoints: per token (the principal a request authenticated as) and
//! per deployment, each a budget of requests per minute that refills steadily and allows a
//! burst of one minute's budget. A request over either gets HTTP 429 with `Retry-After`.
//!
//! The generic cell rate algorithm comes from `governor` rather than being written here: it
//! keeps one 64-bit cell per key and needs no timer task.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// Requests per minute; `None` means unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// For each token (each principal) across its requests to one deployment. Requests to a
    /// public deployment without a token share one such budget.
    pub per_token: Option<NonZeroU32>,
    /// For each deployment, whoever calls it.
    pub per_deployment: Option<NonZeroU32>,
}

impl Default for RateLimits {
    /// Generous enough for agents that fire tool calls in bursts, tight enough that one runaway
    /// client cannot monopolise a server.
    fn default() -> Self {
        RateLimits {
            per_token: NonZeroU32::new(1_200),
            per_deployment: NonZeroU32::new(6_000),
        }
    }
}

type Keyed = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// A budget of requests per minute for each key (a token, a user, a deployment), refilling
/// steadily with bursts of up to a minute's worth. Also used by the REST API and sign-in.
pub struct Budget {
    limiter: Keyed,
    clock: DefaultClock,
}

impl Budget {
    pub fn per_minute(per_minute: NonZeroU32) -> Budget {
        Budget {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request for `key`; when its budget is spent, how long until the next fits.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.limiter
            .check_key(&key.to_string())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets keys whose budget is full again, so memory follows the active clients.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

pub(crate) struct Limiter {
    tokens: Option<Budget>,
    deployments: Option<Budget>,
}

/// Which budget a refused request exhausted, and when to come back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Exhausted {
    pub budget: &'static str,
    pub retry_after: Duration,
}

impl Limiter {
    pub(crate) fn new(limits: RateLimits) -> Limiter {
        Limiter {
            tokens: limits.per_token.map(Budget::per_minute),
            deployments: limits.per_deployment.map(Budget::per_minute),
        }
    }

    /// Counts one request of `principal` to `deployment`.
    pub(crate) fn check(&self, deployment: &str, principal: &str) -> Result<(), Exhausted> {
        let over = |budget: &Budget, key: &str, name| {
            budget.check(key).map_err(|retry_after| Exhausted {
                budget: name,
                retry_after,
            })
        };
        if let Some(tokens) = &self.tokens {
            over(
                tokens,
                &format!("{deployment}\n{principal}"),
                "this token's",
            )?;
        }
        if let Some(deployments) = &self.deployments {
            over(deployments, deployment, "this deployment's")?;
        }
        Ok(())
    }

    /// Forgets keys whose budget is full again, so memory follows the active clients.
    pub(crate) fn forget_idle(&self) {
        for budget in [&self.tokens, &self.deployments].into_iter().flatten() {
            budget.forget_idle();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_token_and_each_deployment_has_its_own_budget() {
        let limiter = Limiter::new(RateLimits {
            per_token: NonZeroU32::new(3),
            per_deployment: NonZeroU32::new(5),
        });
        for _ in 0..3 {
            limiter.check("a", "alice").unwrap();
        }
        let refused = limiter.check("a", "alice").unwrap_err();
        assert_eq!(refused.budget, "this token's");
        // One request per 20 s refills a budget of 3 per minute.
        assert!(refused.retry_after > Duration::from_secs(15), "{refused:?}");
        assert!(
            refused.retry_after <= Duration::from_secs(20),
            "{refused:?}"
        );
        // Another token, and the same token elsewhere, are untouched.
        limiter.check("b", "alice").unwrap();
        limiter.check("a", "bob").unwrap();
        limiter.check("a", "public").unwrap();
        // The deployment's budget of 5 is spent now (3 + bob + the anonymous one).
        let refused = limiter.check("a", "carol").unwrap_err();
        assert_eq!(refused.budget, "this deployment's");
    }

    #[test]
    fn no_limit_means_no_refusal() {
        let limiter = Limiter::new(RateLimits {
            per_token: None,
            per_deployment: None,
        });
        for _ in 0..10_000 {
            limiter.check("a", "alice").unwrap();
        }
        limiter.forget_idle();
    }
}
