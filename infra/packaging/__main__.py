"""``python -m infra.packaging [--host-arch] [--build-dir D] [--runs N]``: build, report the
layer, and (host architecture only, where the handlers can be imported) their cold-init times."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from infra import cfn
from infra.packaging.cold_init import cold_init_times
from infra.packaging.layer import layer_report
from infra.packaging.sam_build import TEMPLATE, build
from infra.packaging.toolchain import ROOT


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.packaging", description=__doc__)
    parser.add_argument("--host-arch", action="store_true", help="build the layer for this machine")
    parser.add_argument("--build-dir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    flavour = "host" if args.host_arch else "arm64"
    build_dir = args.build_dir or ROOT / ".aws-sam" / f"build-packaging-{flavour}"
    build(build_dir, host_arch=args.host_arch)
    report = layer_report(build_dir)
    report.pop("extensions")
    print(json.dumps(report, indent=2))
    if args.host_arch:
        # Only imports run here: an endpoint nobody listens on will do.
        env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "us-east-1"}
        template = cfn.load_template(TEMPLATE)
        env.update(cfn.function_environment(template, cfn.Resolver(template).resolve_str))
        times = cold_init_times(build_dir, env, runs=args.runs)
        baseline = times["boto3"]
        print(
            json.dumps(
                {
                    "median_ms": {name: round(value * 1000) for name, value in times.items()},
                    "vs_import_boto3": {name: round(value / baseline, 2) for name, value in times.items()},
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
