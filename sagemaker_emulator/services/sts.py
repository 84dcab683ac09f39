"""STS: the caller is always an assumed SageMaker execution role of the emulated account, which is
what ``sagemaker.get_execution_role()`` needs (sdk-calls.md §2)."""

from __future__ import annotations

import secrets
import string
from datetime import datetime, timedelta, timezone
from typing import Any

from sagemaker_emulator.aws.dispatch import RequestContext, operation

EXECUTION_ROLE_NAME = "SageMakerRole"
SESSION_NAME = "sagemaker-emulator"


def _unique_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(17))


@operation("sts", "GetCallerIdentity")
def get_caller_identity(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "UserId": f"AROA{ctx.account_id}EMULATOR:{SESSION_NAME}",
        "Account": ctx.account_id,
        "Arn": f"arn:aws:sts::{ctx.account_id}:assumed-role/{EXECUTION_ROLE_NAME}/{SESSION_NAME}",
    }


@operation("sts", "AssumeRole")
def assume_role(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    role_arn = params["RoleArn"]
    role_name = role_arn.rsplit("/", 1)[-1]
    session = params["RoleSessionName"]
    expires = datetime.now(timezone.utc) + timedelta(seconds=params.get("DurationSeconds") or 3600)
    return {
        "Credentials": {
            "AccessKeyId": _unique_id("ASIA")[:20],
            "SecretAccessKey": secrets.token_urlsafe(30)[:40],
            "SessionToken": secrets.token_urlsafe(96),
            "Expiration": expires.replace(microsecond=0),
        },
        "AssumedRoleUser": {
            "AssumedRoleId": f"{_unique_id('AROA')[:21]}:{session}",
            "Arn": f"arn:aws:sts::{ctx.account_id}:assumed-role/{role_name}/{session}",
        },
        "PackedPolicySize": 0,
    }
