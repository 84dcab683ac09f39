"""IAM, as much as SageMaker notebooks touch: every role name resolves (so any execution role a
notebook names works), roles created explicitly keep their path and trust policy, and AWS-managed
policies such as AmazonSageMakerFullAccess attach."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from datetime import datetime, timezone
from typing import Any

from sagemaker_emulator.aws.dispatch import RequestContext, operation
from sagemaker_emulator.aws.errors import AwsError

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS iam_roles (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        path TEXT NOT NULL,
        role_id TEXT NOT NULL,
        created REAL NOT NULL,
        trust_policy TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE IF NOT EXISTS iam_role_policies (
        role_name TEXT NOT NULL COLLATE NOCASE,
        policy_arn TEXT NOT NULL,
        PRIMARY KEY (role_name, policy_arn)
    )""",
]

SAGEMAKER_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def _db(ctx: RequestContext):
    db = ctx.emulator.db
    if not getattr(ctx.emulator, "_iam_schema_ready", False):
        db.ensure_schema(SCHEMA)
        ctx.emulator._iam_schema_ready = True
    return db


def _role(ctx: RequestContext, name: str, path: str, role_id: str, created: float, trust: str, description: str) -> dict[str, Any]:
    role: dict[str, Any] = {
        "Path": path,
        "RoleName": name,
        "RoleId": role_id,
        "Arn": f"arn:aws:iam::{ctx.account_id}:role{path}{name}",
        "CreateDate": datetime.fromtimestamp(created, timezone.utc).replace(microsecond=0),
        "AssumeRolePolicyDocument": urllib.parse.quote(trust),
        "MaxSessionDuration": 3600,
    }
    if description:
        role["Description"] = description
    return role


def _role_id(name: str) -> str:
    return "AROA" + hashlib.sha1(name.lower().encode()).hexdigest()[:17].upper()


@operation("iam", "GetRole")
def get_role(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params["RoleName"]
    row = _db(ctx).query_one("SELECT * FROM iam_roles WHERE name = ?", (name,))
    if row:
        return {"Role": _role(ctx, row["name"], row["path"], row["role_id"], row["created"], row["trust_policy"], row["description"])}
    path = "/service-role/" if name.startswith("AmazonSageMaker-ExecutionRole") else "/"
    return {"Role": _role(ctx, name, path, _role_id(name), 0.0, SAGEMAKER_TRUST_POLICY, "")}


@operation("iam", "CreateRole")
def create_role(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name = params["RoleName"]
    path = params.get("Path") or "/"
    created = time.time()
    trust = params["AssumeRolePolicyDocument"]
    description = params.get("Description") or ""
    db = _db(ctx)
    with db.transaction() as connection:
        cursor = connection.execute(
            "INSERT OR IGNORE INTO iam_roles VALUES (?, ?, ?, ?, ?, ?)",
            (name, path, _role_id(name), created, trust, description),
        )
    if cursor.rowcount == 0:
        raise AwsError("EntityAlreadyExists", f"Role with name {name} already exists.", 409)
    return {"Role": _role(ctx, name, path, _role_id(name), created, trust, description)}


@operation("iam", "AttachRolePolicy")
def attach_role_policy(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    policy_arn = params["PolicyArn"]
    if not policy_arn.startswith(("arn:aws:iam::aws:policy/", f"arn:aws:iam::{ctx.account_id}:policy/")):
        raise AwsError("NoSuchEntity", f"Policy {policy_arn} does not exist or is not attachable.", 404)
    _db(ctx).execute("INSERT OR IGNORE INTO iam_role_policies VALUES (?, ?)", (params["RoleName"], policy_arn))
    return {}


@operation("iam", "ListAttachedRolePolicies")
def list_attached_role_policies(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    rows = _db(ctx).query(
        "SELECT policy_arn FROM iam_role_policies WHERE role_name = ? ORDER BY policy_arn", (params["RoleName"],)
    )
    return {
        "AttachedPolicies": [
            {"PolicyName": row["policy_arn"].rsplit("/", 1)[-1], "PolicyArn": row["policy_arn"]} for row in rows
        ],
        "IsTruncated": False,
    }
