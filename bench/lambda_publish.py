#!/usr/bin/env python3
"""Peak memory and time of the API function publishing, at the emulator.

    .venv/bin/python bench/lambda_publish.py target/lambda/notus-api/bootstrap \
        --notus-server target/release/notus-server

Creates a bucket, table and KMS key at the emulator ($AWS_ENDPOINT_URL) with
`notus-server --aws --create-missing`, crafts Notary collections of 100 and 10,000 targets
against it, stops it, then runs the release `notus-api` bootstrap under a minimal Lambda Runtime
API (bench/lambda_package.py) with the collection's first publish and an incremental publish as
API Gateway v2 events. Prints the responses' times and the process's peak RSS (VmHWM).
"""
import argparse
import base64
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lambda_package as lp  # noqa: E402
import side_by_side as sbs  # noqa: E402


def post_event(gun, upload):
    ctype, body = upload
    path = f"/v2/{gun}/_trust/tuf/"
    ev = dict(lp.EVENT)
    ev.update({"rawPath": path, "body": base64.b64encode(body).decode(), "isBase64Encoded": True,
               "headers": {"host": "notus.example", "content-type": ctype,
                           "content-length": str(len(body))}})
    ctx = dict(lp.EVENT["requestContext"])
    ctx["http"] = dict(ctx["http"], method="POST", path=path)
    ev["requestContext"] = ctx
    return ev


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bootstrap")
    ap.add_argument("--notus-server", required=True)
    args = ap.parse_args()
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or sys.exit("set AWS_ENDPOINT_URL (localstack/start)")
    names = {"NOTUS_BUCKET": f"notus-lp-{os.getpid()}", "NOTUS_TABLE": f"notus-lp-{os.getpid()}",
             "NOTUS_KMS_KEY": f"alias/notus-lp-{os.getpid()}"}
    env = dict(os.environ, NOTUS_LOG="warn", **names)
    server = subprocess.Popen([args.notus_server, "--aws", "--create-missing", "--listen",
                               "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, env=env)
    try:
        url = next(w for w in server.stdout.readline().split() if w.startswith("http://"))
        sbs.wait_http(url)
        cases = []
        for n in (100, 10_000):
            col = sbs.Collection(url, f"bench.example/lambda-{n}", n)
            cases.append((n, col.gun, col.first(), col.update()))
    finally:
        server.terminate()
        server.wait()
    print("| collection | first publish (ms from process start) | incremental publish | upload sizes | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    aws = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", **names}
    for n, gun, first, update in cases:
        times, responses, peak = lp.invoke(args.bootstrap, [post_event(gun, first),
                                                             post_event(gun, update)], aws)
        codes = [r.get("statusCode") for r in responses]
        if codes != [200, 200]:
            sys.exit(f"publish answered {codes}: {responses}")
        print(f"| {n:,} targets | {times[0] * 1000:.0f} | +{(times[1] - times[0]) * 1000:.0f} | "
              f"{len(first[1]) / 1e3:.0f} KB, {len(update[1]) / 1e3:.0f} KB | {peak / 1024:.1f} |")


if __name__ == "__main__":
    main()
