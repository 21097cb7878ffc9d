//! Refresh: re-sign every timestamp (and server-held snapshot) that expires within the refresh
//! window, and finish interrupted deletions. A CDN cannot sign on read, so this keeps every
//! collection fresh.
//!
//! Idempotent and safe to run concurrently: each collection is re-signed through the same
//! stage/commit/materialise protocol as a publish, so of two runs (or a run and a publish) one
//! commits and the other finds the head moved and leaves it alone.

use futures_util::{StreamExt, stream};
use notus_tuf::RoleType;
use notus_tuf::build;
use notus_tuf::metadata::{Envelope, Root, Snapshot, Stored};
use notus_tuf::server::held_key;

use super::publish::{commit_files, held_keys};
use super::store::{NewFile, expires_of, head_dialect, load_files, sign_with_server_key};
use super::{ApiResult, Service, backend, updating};

/// What refresh did to one collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing expires within the window (or the collection is gone).
    NotDue,
    /// New timestamp (and snapshot) committed.
    Refreshed,
    /// Another writer committed first; it carries a fresh timestamp.
    Raced,
    /// An interrupted DELETE was finished.
    DeletionFinished,
}

/// Totals of one refresh run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Collections the ledger listed as due.
    pub due: usize,
    /// Re-signed.
    pub refreshed: usize,
    /// Left to a concurrent writer.
    pub raced: usize,
    /// Deletions finished.
    pub deletions: usize,
    /// Not due after all.
    pub not_due: usize,
    /// Failed (logged; retried next run).
    pub failed: usize,
    /// Collections that, after the run, still expire within half the refresh window: refresh
    /// is failing for them, and clients will soon refuse their timestamps (a deployment alarms
    /// on any).
    pub expiring: usize,
}

/// A run's counts as one CloudWatch embedded-metric-format line (namespace `Notus`, dimension
/// `Deployment`): Lambda's log ingestion turns it into metrics, with no CloudWatch API call or
/// permission.
pub fn embedded_metrics(
    report: &Report,
    deployment: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    const METRICS: [&str; 4] = ["Refreshed", "Failed", "ExpiringSoon", "Due"];
    serde_json::json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": "Notus",
                "Dimensions": [["Deployment"]],
                "Metrics": METRICS.map(|m| serde_json::json!({"Name": m, "Unit": "Count"})),
            }],
        },
        "Deployment": deployment,
        "Refreshed": report.refreshed,
        "Failed": report.failed,
        "ExpiringSoon": report.expiring,
        "Due": report.due,
    })
}

/// Refresh every collection that is due.
pub async fn refresh_all(svc: &Service) -> ApiResult<Report> {
    let cutoff = svc.now() + svc.config.refresh_window;
    let guns = svc.ledger.due(cutoff).await.map_err(backend)?;
    let mut report = Report {
        due: guns.len(),
        ..Report::default()
    };
    let runs: Vec<_> = guns
        .into_iter()
        .map(|gun| async move {
            let r = refresh_one(svc, &gun).await;
            (gun, r)
        })
        .collect();
    let mut results = stream::iter(runs).buffer_unordered(svc.config.refresh_concurrency.max(1));
    while let Some((gun, r)) = results.next().await {
        match r {
            Ok(Outcome::Refreshed) => report.refreshed += 1,
            Ok(Outcome::Raced) => report.raced += 1,
            Ok(Outcome::DeletionFinished) => report.deletions += 1,
            Ok(Outcome::NotDue) => report.not_due += 1,
            Err(e) => {
                tracing::error!(gun, code = e.code, detail = ?e.detail, "refresh failed");
                report.failed += 1;
            }
        }
    }
    let margin = svc.now() + svc.config.refresh_window / 2;
    report.expiring = svc.ledger.due(margin).await.map_err(backend)?.len();
    tracing::info!(?report, "refresh run finished");
    Ok(report)
}

/// Refresh one collection if it is due.
pub async fn refresh_one(svc: &Service, gun: &str) -> ApiResult<Outcome> {
    let Some(head) = svc.ledger.head(gun).await.map_err(backend)? else {
        return Ok(Outcome::NotDue);
    };
    if head.deleting {
        super::delete::finish(svc, gun, &head).await?;
        return Ok(Outcome::DeletionFinished);
    }
    let now = svc.now();
    let cutoff = now + svc.config.refresh_window;
    if head.refresh_due > cutoff {
        return Ok(Outcome::NotDue);
    }
    let files = load_files(svc, gun, &head, Some(&["root", "snapshot", "timestamp"])).await?;
    let dialect = head_dialect(&head)?;
    let get = |role: &str| {
        files
            .get(role)
            .ok_or_else(|| updating(&format!("collection has no {role}")))
    };
    let root: Stored<Root> = Stored::from_bytes(get("root")?.bytes.to_vec())
        .map_err(|e| updating(&format!("stored root is unreadable: {e}")))?;
    let keys = svc.ledger.keys(gun).await.map_err(backend)?;
    let held = held_keys(&keys)?;
    let mut new_files = Vec::new();

    let mut snapshot = get("snapshot")?.clone();
    let server_snapshot = held_key(dialect, &root.value, RoleType::Snapshot, &held.snapshot);
    if let Some((i, keyid)) = &server_snapshot
        && expires_of(&snapshot)? <= cutoff
    {
        let current: Snapshot = Envelope::from_bytes(&snapshot.bytes)
            .and_then(|e| e.decode())
            .map_err(|e| updating(&format!("stored snapshot is unreadable: {e}")))?;
        let version = snapshot.version + 1;
        let unsigned = build::build_snapshot_with_meta(
            dialect,
            version,
            now + svc.config.snapshot_lifetime,
            &current.meta,
        )
        .map_err(|e| updating(&e.to_string()))?;
        let bytes = sign_with_server_key(svc, unsigned, keyid, &keys.snapshot[*i]).await?;
        snapshot = NewFile::new("snapshot", version, bytes);
        new_files.push(snapshot.clone());
    }

    let Some((i, keyid)) = held_key(dialect, &root.value, RoleType::Timestamp, &held.timestamp)
    else {
        return Err(updating("root lists no timestamp key the server holds"));
    };
    let version = get("timestamp")?.version + 1;
    let unsigned = build::build_timestamp(
        dialect,
        version,
        now + svc.config.timestamp_lifetime,
        &snapshot.bytes,
        snapshot.version,
    )
    .map_err(|e| updating(&e.to_string()))?;
    let bytes = sign_with_server_key(svc, unsigned, &keyid, &keys.timestamp[i]).await?;
    new_files.push(NewFile::new("timestamp", version, bytes));

    if commit_files(
        svc,
        gun,
        Some(&head),
        dialect,
        &files,
        new_files,
        server_snapshot.is_some(),
    )
    .await?
    {
        tracing::info!(gun, timestamp_version = version, "refreshed");
        Ok(Outcome::Refreshed)
    } else {
        Ok(Outcome::Raced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_metrics_name_every_value_they_declare() {
        let report = Report {
            due: 5,
            refreshed: 3,
            failed: 1,
            expiring: 2,
            ..Report::default()
        };
        let at = chrono::DateTime::from_timestamp(1_795_640_400, 0).unwrap();
        let line = embedded_metrics(&report, "prod", at);
        assert_eq!(line["_aws"]["Timestamp"], 1_795_640_400_000i64);
        let declared = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "Notus");
        assert_eq!(declared["Dimensions"][0][0], "Deployment");
        assert_eq!(line["Deployment"], "prod");
        // EMF drops a metric whose value is missing from the line.
        for m in declared["Metrics"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            assert!(line[name].is_number(), "{name} declared but not set");
        }
        assert_eq!(line["ExpiringSoon"], 2);
        assert_eq!(line["Failed"], 1);
        assert_eq!(line["Refreshed"], 3);
    }
}
