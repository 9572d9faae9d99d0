//! Per-project quotas from the identity service's unified limits, as
//! Glance's `use_keystone_limits` does: `image_count_total`,
//! `image_count_uploading`, `image_size_total` and `image_stage_total`
//! (sizes in MiB). A resource without a limit is unlimited; `-1` is
//! unlimited. Exceeding a limit answers 413 and stores nothing.

use std::future::Future;
use std::pin::Pin;

use crate::error::{ImageError, Result};

pub const IMAGE_COUNT_TOTAL: &str = "image_count_total";
pub const IMAGE_COUNT_UPLOADING: &str = "image_count_uploading";
pub const IMAGE_SIZE_TOTAL: &str = "image_size_total";
pub const IMAGE_STAGE_TOTAL: &str = "image_stage_total";

pub type LimitFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<i64>>> + Send + 'a>>;

/// Where limits come from: the identity service (in process today).
pub trait LimitSource: Send + Sync + 'static {
    /// The limit of `resource` for `project_id`; `None` when unlimited.
    fn limit<'a>(&'a self, project_id: &'a str, resource: &'a str) -> LimitFuture<'a>;
}

/// Unified limits read from the identity service in process, for the
/// service type `image` in `region` (or region-less limits).
pub struct IdentityLimits {
    pub identity: identity::Identity,
    pub region: Option<String>,
}

impl LimitSource for IdentityLimits {
    fn limit<'a>(&'a self, project_id: &'a str, resource: &'a str) -> LimitFuture<'a> {
        Box::pin(async move {
            match self
                .identity
                .effective_limit(project_id, "image", self.region.as_deref(), resource)
                .await
            {
                Ok(l) => Ok(l.filter(|n| *n >= 0)),
                // A project identity does not know has no limits to apply.
                Err(identity::IdentityError::NotFound { .. }) => Ok(None),
                Err(e) => Err(ImageError::Internal(format!("reading unified limits: {e}"))),
            }
        })
    }
}

/// 413 with Glance's message when `used + adding` exceeds `limit`.
pub fn check(resource: &str, limit: Option<i64>, used: i64, adding: i64) -> Result<()> {
    match limit {
        Some(l) if used + adding > l => Err(ImageError::OverLimit(format!(
            "Resource {resource} is over limit of {l} due to current usage {used} and delta {adding}"
        ))),
        _ => Ok(()),
    }
}

/// MiB, rounded up, as Glance counts image sizes against limits.
pub fn mib(bytes: i64) -> i64 {
    (bytes + (1 << 20) - 1) >> 20
}

impl crate::Image {
    /// The caller's project's usage against each quota:
    /// `(resource, limit, usage)`, sizes in MiB.
    pub async fn usage(&self, ctx: &api::AuthContext) -> Result<Vec<(&'static str, Option<i64>, i64)>> {
        let Some(project) = ctx.project_id.as_deref() else {
            return Err(ImageError::forbidden("A project-scoped token is required."));
        };
        let (count, bytes, uploading) = crate::db::images::usage(&self.db, project).await?;
        let mut out = Vec::new();
        for (res, used) in [
            (IMAGE_SIZE_TOTAL, mib(bytes)),
            (IMAGE_STAGE_TOTAL, 0),
            (IMAGE_COUNT_TOTAL, count),
            (IMAGE_COUNT_UPLOADING, uploading),
        ] {
            let limit = match &self.limits {
                Some(l) => l.limit(project, res).await?,
                None => None,
            };
            out.push((res, limit, used));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_limit_is_413_and_unlimited_passes() {
        assert!(check("image_count_total", Some(2), 2, 1).is_err());
        assert!(check("image_count_total", Some(2), 1, 1).is_ok());
        assert!(check("image_count_total", None, 100, 1).is_ok());
        assert_eq!(mib(1), 1);
        assert_eq!(mib(1 << 20), 1);
        assert_eq!(mib((1 << 20) + 1), 2);
    }
}
