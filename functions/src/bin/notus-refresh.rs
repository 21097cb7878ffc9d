//! Lambda entry point for refresh, invoked on a schedule (EventBridge): re-signs every
//! timestamp (and server-held snapshot) that expires within the refresh window. The event's
//! content is ignored. A run with failures returns an error, so the function's error alarm
//! fires; the failed collections are retried on the next run. Each run prints its counts as
//! one CloudWatch embedded-metric line (namespace `Notus`, dimension `Deployment`), which the
//! template's near-expiry alarm watches.

#[global_allocator]
static GLOBAL: notus_service::Allocator = notus_service::ALLOCATOR;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use notus_service::ops::refresh;
use notus_service::settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    notus_service::disable_transparent_huge_pages();
    let svc = settings::lambda_service("notus-refresh").await?;
    let deployment = std::env::var("NOTUS_DEPLOYMENT").unwrap_or_else(|_| "notus".into());
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<serde_json::Value>| {
        let svc = svc.clone();
        let deployment = deployment.clone();
        async move {
            let report = refresh::refresh_all(&svc)
                .await
                .map_err(|e| format!("refresh could not list due collections: {}", e.code))?;
            println!(
                "{}",
                refresh::embedded_metrics(&report, &deployment, svc.now())
            );
            if report.failed > 0 {
                return Err(Error::from(format!(
                    "{} of {} collections failed to refresh",
                    report.failed, report.due
                )));
            }
            Ok::<_, Error>(serde_json::to_value(report)?)
        }
    }))
    .await
}
