//! How the gateway learns whether a request may reach a deployment: with the deployment's own
//! access token, an OAuth access token issued for it (`crate::oauth`), or, when it is public,
//! with nothing.

use catwalk_gateway::{Access, Refusal, Resolver};
use futures::future::BoxFuture;
use serde_json::value::RawValue;

use crate::deployments::Deployments;

impl Resolver for Deployments {
    fn resolve<'a>(
        &'a self,
        deployment: &'a str,
        token: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Access, Refusal>> {
        Box::pin(async move {
            // An OAuth access token for this deployment (never passed on: the upstream server
            // sees MCP messages only). Anything else is the deployment's own business.
            if let Some(token) = token {
                match crate::oauth::admit(self.store(), deployment, token).await {
                    Ok(Some(principal)) => {
                        let (upstream, principal) =
                            self.access_granted(deployment, principal).await?;
                        return Ok(Access {
                            upstream,
                            principal,
                        });
                    }
                    Ok(None) => {}
                    Err(error) => return Err(Refusal::Unavailable(error.to_string())),
                }
            }
            let (upstream, principal) = self.access(deployment, token).await?;
            Ok(Access {
                upstream,
                principal,
            })
        })
    }

    fn session_upstream<'a>(
        &'a self,
        deployment: &'a str,
        access: &'a Access,
        client_params: Option<&'a RawValue>,
    ) -> BoxFuture<'a, Result<catwalk_bridge::Upstream, Refusal>> {
        Box::pin(self.upstream_for_new_session(deployment, &access.upstream, client_params))
    }

    fn call_observer(
        &self,
        deployment: &str,
        principal: &str,
    ) -> Option<std::sync::Arc<dyn catwalk_bridge::CallObserver>> {
        self.session_calls(deployment, principal)
    }
}
