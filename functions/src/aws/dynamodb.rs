//! The ledger on one DynamoDB table (`pk` string, `sk` number):
//!
//! | item | pk | sk | attributes |
//! |---|---|---|---|
//! | head of a GUN | `head#{gun}` | 0 | `seq`, `body` (JSON), `refresh_due`, `deleting`, `due_shard`, `due_at` |
//! | keys of a GUN | `keys#{gun}` | 0 | `rev`, `body` |
//! | change counter | `counter` | 0 | `n` |
//! | global feed | `feed` | id | `body` |
//! | GUN feed | `feed#{gun}` | id | `body` |
//!
//! A commit is one `TransactWriteItems`: advance the counter from the value read, put the head
//! on condition that its `seq` is the expected one, and put both feed items. The head condition
//! is the per-GUN serialisation point; the counter condition only orders feed IDs, and losing it
//! just means reading the counter again.
//!
//! Refresh finds due collections through the sparse global secondary index `due` (partition
//! `due_shard`, sort `due_at`, keys only): only heads carry those attributes, so a run reads the
//! due heads and nothing else, instead of scanning a table that grows with every change. A head
//! being deleted is due at once (`due_at` is the epoch). Heads spread over [`DUE_SHARDS`]
//! partition values by a hash of the GUN, so no index partition takes every head write.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, Put, ScalarAttributeType, TransactWriteItem,
};
use chrono::{DateTime, SecondsFormat, Utc};

use super::classify;
use crate::ports::{
    Change, ChangeQuery, Commit, Head, KeyAssignments, Ledger, NewChange, PortError, PortResult,
};

/// The DynamoDB ledger.
pub struct DynamoLedger {
    client: Client,
    table: String,
}

/// The refresh index (see the module doc).
pub const DUE_INDEX: &str = "due";

/// Partition values of the refresh index.
pub const DUE_SHARDS: u8 = 16;

/// The refresh-index partition of a GUN.
fn due_shard(gun: &str) -> String {
    use sha2::Digest as _;
    format!(
        "due#{}",
        sha2::Sha256::digest(gun.as_bytes())[0] % DUE_SHARDS
    )
}

/// How often a commit re-reads the counter after losing it to another GUN's commit.
const COUNTER_ATTEMPTS: usize = 64;

/// The longest pause between two attempts at the counter.
const COUNTER_BACKOFF_CAP_MS: u64 = 100;

/// A random pause before attempt `attempt` (from 1) at the counter: exponential with full
/// jitter. Without it, commits that lost the counter retried in lock step and the same ones kept
/// losing: a refresh of 1,000 collections, 8 at a time, at the emulator failed 6–7 of them after
/// 64 lost attempts each.
fn counter_backoff(attempt: usize) -> std::time::Duration {
    let ceiling = (1u64 << attempt.min(7)).min(COUNTER_BACKOFF_CAP_MS);
    let jitter = rand_core::RngCore::next_u64(&mut rand_core::OsRng) % (ceiling + 1);
    std::time::Duration::from_millis(jitter)
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: String, sk: u64) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), n(sk))])
}

fn get_n(item: &Item, name: &str) -> PortResult<u64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| PortError::Other(format!("ledger: bad number in {name}"))),
        _ => Err(PortError::Other(format!("ledger: item has no {name}"))),
    }
}

fn get_body<T: serde::de::DeserializeOwned>(item: &Item) -> PortResult<T> {
    match item.get("body") {
        Some(AttributeValue::S(b)) => {
            serde_json::from_str(b).map_err(|e| PortError::Other(format!("ledger: {e}")))
        }
        _ => Err(PortError::Other("ledger: item has no body".into())),
    }
}

fn json<T: serde::Serialize>(v: &T) -> PortResult<String> {
    serde_json::to_string(v).map_err(|e| PortError::Other(format!("ledger: {e}")))
}

/// Fixed-width UTC time, so string order is time order.
fn sortable(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl DynamoLedger {
    /// The ledger in table `table`.
    pub fn new(conf: &aws_config::SdkConfig, table: &str) -> Self {
        DynamoLedger {
            client: Client::new(conf),
            table: table.to_owned(),
        }
    }

    /// Create the table (on-demand billing) if it does not exist: for the emulator and local
    /// runs; deployments create it from the template.
    pub async fn ensure_table(&self) -> PortResult<()> {
        let exists = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .is_ok();
        if exists {
            return Ok(());
        }
        let attr = |name: &str, t| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(t)
                .build()
                .map_err(PortError::other)
        };
        let ks = |name: &str, t| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(t)
                .build()
                .map_err(PortError::other)
        };
        let due_index = GlobalSecondaryIndex::builder()
            .index_name(DUE_INDEX)
            .key_schema(ks("due_shard", KeyType::Hash)?)
            .key_schema(ks("due_at", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::KeysOnly)
                    .build(),
            )
            .build()
            .map_err(PortError::other)?;
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk", ScalarAttributeType::S)?)
            .attribute_definitions(attr("sk", ScalarAttributeType::N)?)
            .attribute_definitions(attr("due_shard", ScalarAttributeType::S)?)
            .attribute_definitions(attr("due_at", ScalarAttributeType::S)?)
            .key_schema(ks("pk", KeyType::Hash)?)
            .key_schema(ks("sk", KeyType::Range)?)
            .global_secondary_indexes(due_index)
            .send()
            .await
            .map_err(|e| classify("DynamoDB CreateTable", e))?;
        Ok(())
    }

    async fn get(&self, pk: String) -> PortResult<Option<Item>> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, 0)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("DynamoDB GetItem", e))?;
        Ok(resp.item)
    }

    fn put(&self, item: Item) -> PortResult<Put> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(PortError::other)
    }
}

/// Which items of a cancelled transaction failed their condition.
fn failed_conditions(
    e: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
) -> Option<Vec<bool>> {
    match e {
        SdkError::ServiceError(se) => match se.err() {
            TransactWriteItemsError::TransactionCanceledException(c) => Some(
                c.cancellation_reasons()
                    .iter()
                    .map(|r| r.code() == Some("ConditionalCheckFailed"))
                    .collect(),
            ),
            _ => None,
        },
        _ => None,
    }
}

#[async_trait]
impl Ledger for DynamoLedger {
    async fn head(&self, gun: &str) -> PortResult<Option<Head>> {
        self.get(format!("head#{gun}"))
            .await?
            .map(|i| get_body(&i))
            .transpose()
    }

    async fn commit(
        &self,
        gun: &str,
        expected_seq: Option<u64>,
        head: &Head,
        change: &NewChange,
    ) -> PortResult<Commit> {
        let mut head_item = key(format!("head#{gun}"), 0);
        head_item.insert("seq".into(), n(head.seq));
        head_item.insert("body".into(), s(json(head)?));
        head_item.insert("refresh_due".into(), s(sortable(head.refresh_due)));
        head_item.insert("deleting".into(), AttributeValue::Bool(head.deleting));
        head_item.insert("due_shard".into(), s(due_shard(gun)));
        let due_at = if head.deleting {
            DateTime::UNIX_EPOCH
        } else {
            head.refresh_due
        };
        head_item.insert("due_at".into(), s(sortable(due_at)));
        let mut head_put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(head_item));
        head_put = match expected_seq {
            None => head_put.condition_expression("attribute_not_exists(pk)"),
            Some(seq) => head_put
                .condition_expression("seq = :expected")
                .expression_attribute_values(":expected", n(seq)),
        };
        let head_put = head_put.build().map_err(PortError::other)?;

        for attempt in 0..COUNTER_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(counter_backoff(attempt)).await;
            }
            let last = match self.get("counter".into()).await? {
                Some(i) => Some(get_n(&i, "n")?),
                None => None,
            };
            let id = last.unwrap_or(0) + 1;
            let body = json(&Change {
                id,
                gun: gun.to_owned(),
                change: change.clone(),
            })?;
            let feed_item = |pk: String| -> PortResult<Put> {
                let mut item = key(pk, id);
                item.insert("body".into(), s(body.clone()));
                self.put(item)
            };
            let mut counter = Put::builder().table_name(&self.table).set_item(Some({
                let mut i = key("counter".into(), 0);
                i.insert("n".into(), n(id));
                i
            }));
            counter = match last {
                None => counter.condition_expression("attribute_not_exists(pk)"),
                Some(v) => counter
                    .condition_expression("n = :last")
                    .expression_attribute_values(":last", n(v)),
            };
            let items = vec![
                TransactWriteItem::builder()
                    .put(counter.build().map_err(PortError::other)?)
                    .build(),
                TransactWriteItem::builder().put(head_put.clone()).build(),
                TransactWriteItem::builder()
                    .put(feed_item("feed".into())?)
                    .build(),
                TransactWriteItem::builder()
                    .put(feed_item(format!("feed#{gun}"))?)
                    .build(),
            ];
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => return Ok(Commit::Committed(id)),
                Err(e) => match failed_conditions(&e) {
                    Some(failed) if failed.get(1) == Some(&true) => return Ok(Commit::Conflict),
                    Some(failed) if failed.first() == Some(&true) => continue,
                    Some(_) => {
                        // Cancelled without naming a condition (some emulators): decide by
                        // reading the head.
                        let now = self.head(gun).await?.map(|h| h.seq);
                        if now != expected_seq {
                            return Ok(Commit::Conflict);
                        }
                        continue;
                    }
                    None => return Err(classify("DynamoDB TransactWriteItems", e)),
                },
            }
        }
        Err(PortError::Unavailable(
            "change counter contended; retry".into(),
        ))
    }

    async fn remove_head(&self, gun: &str, expected_seq: u64) -> PortResult<bool> {
        let r = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("head#{gun}"), 0)))
            .condition_expression("seq = :expected")
            .expression_attribute_values(":expected", n(expected_seq))
            .send()
            .await;
        match r {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(se)) if se.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(e) => Err(classify("DynamoDB DeleteItem", e)),
        }
    }

    async fn changes(&self, q: &ChangeQuery) -> PortResult<Vec<Change>> {
        let pk = match &q.gun {
            Some(g) => format!("feed#{g}"),
            None => "feed".to_owned(),
        };
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .expression_attribute_values(":pk", s(pk))
            .scan_index_forward(!q.backward)
            .limit(q.limit.min(i32::MAX as usize) as i32);
        req = match (q.backward, q.after) {
            (false, a) => req
                .key_condition_expression("pk = :pk AND sk > :c")
                .expression_attribute_values(":c", n(a.unwrap_or(0))),
            (true, Some(b)) => req
                .key_condition_expression("pk = :pk AND sk < :c")
                .expression_attribute_values(":c", n(b)),
            (true, None) => req.key_condition_expression("pk = :pk"),
        };
        let resp = req
            .send()
            .await
            .map_err(|e| classify("DynamoDB Query", e))?;
        let mut out = resp
            .items()
            .iter()
            .map(get_body::<Change>)
            .collect::<PortResult<Vec<_>>>()?;
        out.truncate(q.limit);
        if q.backward {
            out.reverse();
        }
        Ok(out)
    }

    async fn due(&self, before: DateTime<Utc>) -> PortResult<Vec<String>> {
        let mut out = Vec::new();
        for shard in 0..DUE_SHARDS {
            let mut pages = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(DUE_INDEX)
                .key_condition_expression("due_shard = :shard AND due_at < :before")
                .expression_attribute_values(":shard", s(format!("due#{shard}")))
                .expression_attribute_values(":before", s(sortable(before)))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| classify("DynamoDB Query (due index)", e))?;
                for item in page.items() {
                    if let Some(AttributeValue::S(pk)) = item.get("pk")
                        && let Some(gun) = pk.strip_prefix("head#")
                    {
                        out.push(gun.to_owned());
                    }
                }
            }
        }
        Ok(out)
    }

    async fn keys(&self, gun: &str) -> PortResult<KeyAssignments> {
        match self.get(format!("keys#{gun}")).await? {
            Some(i) => get_body(&i),
            None => Ok(KeyAssignments::default()),
        }
    }

    async fn put_keys(&self, gun: &str, keys: &KeyAssignments) -> PortResult<bool> {
        let mut item = key(format!("keys#{gun}"), 0);
        item.insert("rev".into(), n(keys.rev));
        item.insert("body".into(), s(json(keys)?));
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        req = if keys.rev <= 1 {
            req.condition_expression("attribute_not_exists(pk)")
        } else {
            req.condition_expression("rev = :expected")
                .expression_attribute_values(":expected", n(keys.rev - 1))
        };
        match req.send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(se)) if se.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(e) => Err(classify("DynamoDB PutItem", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Pauses stay under the cap, grow with the attempt, and are spread (not lock step).
    #[test]
    fn counter_backoff_is_bounded_growing_and_jittered() {
        for attempt in 1..COUNTER_ATTEMPTS {
            let ceiling = (1u64 << attempt.min(7)).min(COUNTER_BACKOFF_CAP_MS);
            for _ in 0..20 {
                assert!(counter_backoff(attempt).as_millis() as u64 <= ceiling);
            }
        }
        let late: BTreeSet<u128> = (0..200)
            .map(|_| counter_backoff(COUNTER_ATTEMPTS - 1).as_millis())
            .collect();
        assert!(
            late.len() > 20,
            "pauses of late attempts spread out: {late:?}"
        );
        assert!(
            late.iter().any(|ms| *ms > 50),
            "late attempts can wait long"
        );
    }
}
