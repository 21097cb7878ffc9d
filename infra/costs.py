#!/usr/bin/env python3
"""The cost model of infra/COSTS.md: prints its tables from the prices and workload below.

    infra/costs.py            # the scenarios of COSTS.md, as markdown

Every price is an AWS list price for us-east-1 (USD, on-demand, no free tier), read from the
service pricing pages; every per-operation count is read from the code (see COSTS.md). Stdlib only.
"""

PRICE = {
    "kms_key_month": 1.00,            # per customer-managed key
    "kms_asym_request": 0.15 / 10_000,  # Sign/GetPublicKey with an ECC key
    "lambda_gb_s": 0.0000166667,      # x86_64
    "lambda_request": 0.20 / 1e6,
    "ddb_wru": 0.625 / 1e6,           # on-demand write request unit
    "ddb_rru": 0.125 / 1e6,           # on-demand read request unit
    "ddb_gb_month": 0.25,
    "ddb_pitr_gb_month": 0.20,
    "s3_gb_month": 0.023,
    "s3_put": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,
    "cf_gb_out": 0.085,               # first 10 TB, North America/Europe
    "cf_https_request": 0.0100 / 10_000,
    "logs_gb": 0.50,
    "alarm_month": 0.10,
    # notary-server + notary-signer + MySQL, highly available (two of each, Multi-AZ database)
    "ec2_m7i_large_h": 0.1008,
    "rds_mysql_m7g_large_multi_az_h": 0.336,
    "rds_gp3_gb_month_multi_az": 0.230,
    "ebs_gp3_gb_month": 0.08,
    "alb_h": 0.0225,
    "alb_lcu_h": 0.008,
    "ec2_gb_out": 0.09,
}
HOURS = 730  # per month

# Per-operation counts, from the code (functions/src/ops): see COSTS.md, "What one operation does".
PUBLISH = {"kms": 1, "s3_put": 9, "s3_get": 7, "wru": 7, "rru": 2, "invocations": 2, "seconds": 0.08}
REFRESH = {"kms": 1, "s3_put": 3, "s3_get": 4, "wru": 7, "rru": 2, "seconds": 0.04}
DUE_INDEX_ITEM_BYTES = 120  # keys-only projection of a head in the `due` index
CHANGE_ITEM_BYTES = 250   # one changefeed item per publish and per refresh
HEAD_ITEM_BYTES = 1500
LOG_BYTES_PER_INVOCATION = 400


def notus(n, publishes, sessions, lifetime_h, window_h, schedule_h=1.0, memory_gb=0.25,
          changed=0.2, session_kb=2.0, hit_ratio=0.5, collection_kb=20.0, months_of_feed=12,
          refresh_concurrency=8):
    resigns_per_collection = HOURS / (lifetime_h - window_h + schedule_h / 2)
    resigns = n * resigns_per_collection
    pubs = n * publishes
    requests = n * sessions * (1 + 2 * changed)
    feed_bytes = (pubs + resigns) * CHANGE_ITEM_BYTES * months_of_feed
    table_gb = (n * HEAD_ITEM_BYTES + feed_bytes) / 1e9
    runs = HOURS / schedule_h
    # Each run queries the `due` index (eventually consistent: 0.5 RRU per 4 KB read, at least
    # 0.5 per query of each of 16 shards) and reads only the due heads' keys.
    due_rru = runs * 16 * 0.5 + resigns * DUE_INDEX_ITEM_BYTES / 4096 * 0.5
    c = {}
    c["KMS keys (1)"] = PRICE["kms_key_month"]
    c["KMS Sign"] = (pubs * PUBLISH["kms"] + resigns * REFRESH["kms"]) * PRICE["kms_asym_request"]
    gb_s = memory_gb * (pubs * PUBLISH["seconds"] + resigns * REFRESH["seconds"] / refresh_concurrency)
    c["Lambda GB-s"] = gb_s * PRICE["lambda_gb_s"]
    c["Lambda requests"] = (pubs * PUBLISH["invocations"] + runs) * PRICE["lambda_request"]
    c["DynamoDB writes"] = (pubs * PUBLISH["wru"] + resigns * REFRESH["wru"]) * PRICE["ddb_wru"]
    c["DynamoDB reads"] = (
        (pubs * PUBLISH["rru"] + resigns * REFRESH["rru"] + due_rru) * PRICE["ddb_rru"])
    c["DynamoDB storage + PITR"] = table_gb * (PRICE["ddb_gb_month"] + PRICE["ddb_pitr_gb_month"])
    c["S3 PUT"] = (pubs * PUBLISH["s3_put"] + resigns * REFRESH["s3_put"]) * PRICE["s3_put"]
    c["S3 GET (functions + CDN misses)"] = (
        (pubs * PUBLISH["s3_get"] + resigns * REFRESH["s3_get"] + requests * (1 - hit_ratio))
        * PRICE["s3_get"])
    c["S3 storage"] = n * collection_kb / 1e6 * PRICE["s3_gb_month"]
    c["CloudFront requests"] = requests * PRICE["cf_https_request"]
    c["CloudFront transfer"] = n * sessions * session_kb / 1e6 * PRICE["cf_gb_out"]
    c["Logs + alarms"] = (pubs * 2 * LOG_BYTES_PER_INVOCATION / 1e9 * PRICE["logs_gb"]
                          + 4 * PRICE["alarm_month"])
    return c, {"resigns": resigns, "pubs": pubs, "requests": requests, "table_gb": table_gb,
               "due_rru": due_rru}


def notary_server(n, sessions, changed=0.2, session_kb=2.0):
    requests = n * sessions * (1 + 2 * changed)
    c = {}
    c["EC2: 2 notary-server + 2 notary-signer (m7i.large)"] = 4 * PRICE["ec2_m7i_large_h"] * HOURS
    c["EBS: 4 x 20 GB gp3"] = 4 * 20 * PRICE["ebs_gp3_gb_month"]
    c["RDS MySQL db.m7g.large Multi-AZ"] = PRICE["rds_mysql_m7g_large_multi_az_h"] * HOURS
    c["RDS storage 100 GB gp3 Multi-AZ"] = 100 * PRICE["rds_gp3_gb_month_multi_az"]
    lcus = max(1.0, requests / (HOURS * 3600) / 25)  # an LCU is 25 new connections/s
    c["ALB (hours + LCU)"] = (PRICE["alb_h"] + lcus * PRICE["alb_lcu_h"]) * HOURS
    c["Data transfer out"] = n * sessions * session_kb / 1e6 * PRICE["ec2_gb_out"]
    return c


def table(title, costs):
    out = [f"| {title} | USD / month |", "|---|---|"]
    out += [f"| {k} | {v:,.2f} |" for k, v in costs.items()]
    out.append(f"| **total** | **{sum(costs.values()):,.2f}** |")
    return "\n".join(out)


SCENARIOS = [
    # name, collections, publishes/collection/month, sessions/collection/month, lifetime h, window h
    ("1M collections, 24 h timestamps (the default)", 1_000_000, 4, 100, 24, 8),
    ("1M collections, 7-day timestamps, 2-day window", 1_000_000, 4, 100, 168, 48),
    ("1M collections, 14-day timestamps (notary-server's default), 3-day window", 1_000_000, 4, 100, 336, 72),
    ("10k collections, 24 h timestamps", 10_000, 4, 100, 24, 8),
]


def main():
    for name, n, p, r, life, win in SCENARIOS:
        c, w = notus(n, p, r, life, win)
        print(f"### {name}\n")
        print(f"{w['pubs']:,.0f} publishes, {w['resigns']:,.0f} refresh re-signs, "
              f"{w['requests']:,.0f} CDN requests, ledger {w['table_gb']:.1f} GB, "
              f"{w['due_rru']:,.0f} RRU of refresh-index queries per month.\n")
        print(table("Notus", c) + "\n")
        print(table("notary-server + notary-signer + MySQL (same reads)", notary_server(n, r)) + "\n")


if __name__ == "__main__":
    main()
