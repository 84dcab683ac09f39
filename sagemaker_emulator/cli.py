"""``sagemaker-emulator serve`` runs the server; ``sagemaker-emulator env`` prints the client environment."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from sagemaker_emulator.execution.backends import BACKENDS
from sagemaker_emulator.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sagemaker-emulator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    defaults = Settings.from_environment()
    serve = commands.add_parser("serve", help="run the emulator in the foreground until SIGTERM/SIGINT")
    serve.add_argument("--host", default=defaults.host, help="address to bind (default: %(default)s, loopback only)")
    serve.add_argument("--port", type=int, default=defaults.port, help="port (default: %(default)s)")
    serve.add_argument("--data-dir", type=Path, default=defaults.data_dir, help="state directory (default: %(default)s)")
    serve.add_argument("--region", default=defaults.region, help="default region (default: %(default)s)")
    serve.add_argument("--account-id", default=defaults.account_id, help="the emulated account (default: %(default)s)")
    serve.add_argument("--backend", default=defaults.backend, choices=list(BACKENDS),
                       help="where jobs and endpoints run: docker containers, local processes, or auto (docker "
                       "when an engine answers and the algorithm images are built, else process) "
                       "(default: %(default)s)")
    serve.add_argument("--describe-hold-seconds", type=float, default=defaults.describe_hold_seconds,
                       help="longest a Describe call waits for a resource about to finish (default: %(default)s)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    env = commands.add_parser("env", help="print `export` lines that point boto3 and the AWS CLI at the emulator")
    env.add_argument("--endpoint-url", default=defaults.endpoint_url, help="the emulator's URL (default: %(default)s)")
    env.add_argument("--region", default=defaults.region, help="region for clients (default: %(default)s)")
    env.add_argument(
        "--no-sdk-shim",
        dest="sdk_shim",
        action="store_false",
        help="leave PYTHONPATH alone (the SageMaker SDK's get_execution_role() and default_bucket() then "
        "try to reach AWS's STS)",
    )

    args = parser.parse_args(argv)
    if args.command == "env":
        return print_environment(args.endpoint_url, args.region, args.sdk_shim)
    return serve_forever(args)


SDK_SHIM_DIR = Path(__file__).parent / "sdk_shim"


def client_environment(endpoint_url: str, region: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        # The SageMaker SDK's defaults: telemetry off (see sdk_shim/sagemaker-config.yaml).
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(SDK_SHIM_DIR / "sagemaker-config.yaml"),
    }


def print_environment(endpoint_url: str, region: str, sdk_shim: bool = True) -> int:
    for name, value in client_environment(endpoint_url.rstrip("/"), region).items():
        print(f"export {name}={shlex.quote(value)}")
    if sdk_shim:
        # Sends the SDK's hard-coded STS calls to the emulator too (see sdk_shim/sitecustomize.py).
        print(f'export PYTHONPATH={shlex.quote(str(SDK_SHIM_DIR))}${{PYTHONPATH:+:"$PYTHONPATH"}}')
    return 0


def serve_forever(args: argparse.Namespace) -> int:
    import uvicorn

    from sagemaker_emulator.app import create_app
    from sagemaker_emulator.server import ForegroundServer

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = Settings(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir.expanduser(),
        account_id=args.account_id,
        region=args.region,
        backend=args.backend,
        describe_hold_seconds=args.describe_hold_seconds,
    )
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning" if args.log_level == "info" else args.log_level,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    ForegroundServer(config).run()
    return 0
