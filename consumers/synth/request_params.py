"""Plausible ``requestParameters`` / ``responseElements`` for the synthetic CloudTrail records.

Each API gets a few request variants (different resources) built once; records pick one by index.
Reads log ``responseElements: null`` as CloudTrail does; some writes return a small object.

>>> import numpy as np
>>> from consumers.synth.aws_catalog import CatalogApi
>>> api = CatalogApi("logs", "CreateLogStream", False, "hot")
>>> params, response = request_variant(api, "123456789012", "us-east-1", np.random.default_rng(1))
>>> sorted(params)
['logGroupName', 'logStreamName']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from consumers.synth.aws_catalog import CatalogApi
from consumers.synth.identities import APPS

Json = dict[str, Any]


def _hex(rng: np.random.Generator, n: int) -> str:
    return "".join("0123456789abcdef"[i] for i in rng.integers(0, 16, n))


def _uuid(rng: np.random.Generator) -> str:
    return f"{_hex(rng, 8)}-{_hex(rng, 4)}-4{_hex(rng, 3)}-a{_hex(rng, 3)}-{_hex(rng, 12)}"


def _app(rng: np.random.Generator) -> str:
    env = ("prod", "prod", "staging")[int(rng.integers(3))]
    return f"{APPS[int(rng.integers(len(APPS)))]}-{env}"


def _resource(api: CatalogApi, account: str, region: str, rng: np.random.Generator) -> Json:
    """The service's usual resource argument, e.g. ``{"functionName": "orders-prod"}``."""
    app = _app(rng)
    s = api.service
    if s == "ec2":
        return {"instancesSet": {"items": [{"instanceId": f"i-0{_hex(rng, 16)}"}]}, "filterSet": {}}
    if s == "iam":
        return {"roleName": f"{app}-role"}
    if s == "s3":
        bucket = f"{app}-{account}-{region}"
        return {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com"}
    if s == "lambda":
        return {"functionName": f"arn:aws:lambda:{region}:{account}:function:{app}"}
    if s == "kms":
        return {"keyId": f"arn:aws:kms:{region}:{account}:key/{_uuid(rng)}"}
    if s == "ssm":
        return {"name": f"/{app}/config/{('db-url', 'api-key', 'feature-flags')[int(rng.integers(3))]}"}
    if s == "cloudformation":
        return {"stackName": f"arn:aws:cloudformation:{region}:{account}:stack/{app}/{_hex(rng, 8)}"}
    if s == "rds":
        return {"dBInstanceIdentifier": f"{app}-db-{int(rng.integers(1, 4))}"}
    if s == "dynamodb":
        return {"tableName": f"{app}-table"}
    if s == "sns":
        return {"topicArn": f"arn:aws:sns:{region}:{account}:{app}-events"}
    if s == "sqs":
        return {"queueUrl": f"https://sqs.{region}.amazonaws.com/{account}/{app}-queue"}
    if s == "logs":
        return {"logGroupName": f"/aws/lambda/{app}"}
    if s == "secretsmanager":
        return {"secretId": f"{app}/db-credentials"}
    if s == "ecr":
        return {"repositoryName": app, "registryId": account}
    if s == "ecs":
        return {"cluster": f"arn:aws:ecs:{region}:{account}:cluster/{app}"}
    if s == "elasticloadbalancing":
        arn = f"arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/{app}/{_hex(rng, 16)}"
        return {"targetGroupArn": arn}
    if s == "monitoring":
        return {"alarmNames": [f"{app}-5xx-rate", f"{app}-latency-p99"]}
    if s == "events":
        return {"name": f"{app}-schedule", "eventBusName": "default"}
    if s == "route53":
        return {"hostedZoneId": "Z" + _hex(rng, 13).upper()}
    if s == "cloudtrail":
        return {"name": f"arn:aws:cloudtrail:{region}:{account}:trail/org-trail"}
    if s == "config":
        return {"configRuleNames": [f"{app}-encrypted-volumes"]}
    if s == "autoscaling":
        return {"autoScalingGroupName": f"{app}-asg"}
    return {}


def _specific(api: CatalogApi, account: str, region: str, rng: np.random.Generator) -> Json | None:
    """Hand-written parameters for the busiest APIs; None when the generic form is used."""
    name, app = api.name, _app(rng)
    if name == "CreateLogStream":
        return {"logGroupName": f"/aws/lambda/{app}", "logStreamName": f"2026/01/05/[$LATEST]{_hex(rng, 32)}"}
    if name == "UpdateInstanceInformation":
        ip = f"10.{int(rng.integers(256))}.{int(rng.integers(256))}.{int(rng.integers(4, 250))}"
        return {
            "instanceId": f"i-0{_hex(rng, 16)}",
            "agentVersion": "3.2.2086.0",
            "agentStatus": "Active",
            "platformType": "Linux",
            "platformName": "Amazon Linux",
            "platformVersion": "2023",
            "iPAddress": ip,
            "computerName": f"ip-{ip.replace('.', '-')}.ec2.internal",
            "agentName": "amazon-ssm-agent",
        }
    if name in ("CreateTags", "DeleteTags"):
        return {
            "resourcesSet": {"items": [{"resourceId": f"i-0{_hex(rng, 16)}"}]},
            "tagSet": {"items": [{"key": "app", "value": app}, {"key": "owner", "value": "platform-team"}]},
        }
    if name in ("CreateNetworkInterface",):
        return {
            "subnetId": f"subnet-0{_hex(rng, 16)}",
            "description": f"AWS Lambda VPC ENI-{app}-{_hex(rng, 8)}",
            "groupSet": {"items": [{"groupId": f"sg-0{_hex(rng, 16)}"}]},
            "privateIpAddressesSet": {},
        }
    if name in ("Decrypt", "Encrypt", "GenerateDataKey"):
        params: Json = {
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "encryptionContext": {
                "aws:lambda:FunctionArn": f"arn:aws:lambda:{region}:{account}:function:{app}"
            },
        }
        if name == "GenerateDataKey":
            params = {
                "keyId": "alias/aws/s3",
                "keySpec": "AES_256",
                "encryptionContext": params["encryptionContext"],
            }
        return params
    if name in ("AssumeRole", "AssumeRoleWithWebIdentity"):
        return {
            "roleArn": f"arn:aws:iam::{account}:role/{app}-role",
            "roleSessionName": f"botocore-session-{int(rng.integers(1_767_000_000, 1_768_000_000))}",
            "durationSeconds": 3600,
        }
    if name in ("GetCallerIdentity", "ListBuckets", "GetAuthorizationToken", "DescribeRegions"):
        return None
    if name == "PutEvaluations":
        return {
            "evaluations": [
                {
                    "complianceResourceType": "AWS::EC2::Instance",
                    "complianceResourceId": f"i-0{_hex(rng, 16)}",
                    "complianceType": "COMPLIANT",
                    "orderingTimestamp": "Jan 5, 2026, 12:00:00 AM",
                }
            ],
            "resultToken": "",
            "testMode": False,
        }
    if name == "SubmitTaskStateChange":
        return {
            "cluster": f"arn:aws:ecs:{region}:{account}:cluster/{app}",
            "task": f"arn:aws:ecs:{region}:{account}:task/{app}/{_hex(rng, 32)}",
            "status": ("RUNNING", "STOPPED")[int(rng.integers(2))],
        }
    return None


def _response(
    api: CatalogApi, account: str, region: str, params: Json | None, rng: np.random.Generator
) -> Any:
    """``responseElements`` of a successful call: null for reads and most writes."""
    if api.name in ("AssumeRole", "AssumeRoleWithWebIdentity") and params is not None:
        role = str(params["roleArn"]).rsplit("/", 1)[-1]
        return {
            "credentials": {
                "accessKeyId": "ASIA" + _hex(rng, 16).upper(),
                "sessionToken": "IQoJb3JpZ2luX2VjE" + _hex(rng, 60),
                "expiration": "Jan 5, 2026, 1:00:00 AM",
            },
            "assumedRoleUser": {
                "assumedRoleId": f"AROA{_hex(rng, 17).upper()}:{params['roleSessionName']}",
                "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{params['roleSessionName']}",
            },
        }
    if api.read_only:
        return None
    if api.service == "ec2":
        return {"requestId": _uuid(rng), "_return": True}
    if api.service == "lambda" and params is not None:
        return {
            "functionName": params.get("functionName"),
            "state": "Active",
            "lastUpdateStatus": "InProgress",
        }
    return None


def request_variant(
    api: CatalogApi, account: str, region: str, rng: np.random.Generator
) -> tuple[Json | None, Any]:
    """One (requestParameters, successful responseElements) pair for ``api``."""
    params = _specific(api, account, region, rng)
    if params is None and api.name not in ("GetCallerIdentity", "ListBuckets", "GetAuthorizationToken"):
        params = _resource(api, account, region, rng)
        if api.read_only and api.name.startswith(("List", "Describe")) and rng.random() < 0.5:
            params = {"maxResults": int(rng.choice([50, 100, 1000]))}
    return params, _response(api, account, region, params, rng)
