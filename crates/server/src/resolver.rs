//! How the gateway learns whether a request may reach a deployment.

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
