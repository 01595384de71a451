"""A catalogue of real AWS management-event APIs for the synthetic traffic of ``trailpulse generate``.

Each service lists its ``eventName`` values grouped by read/write and by *heat*: ``hot`` APIs can
carry busy traffic (tens to hundreds of calls a minute), ``warm`` ones moderate traffic, ``cold`` ones
are rarely called (IAM changes, trail changes, key deletion, ...). Services also list the error codes
CloudTrail records for them. Global services (IAM, Route 53) only appear in ``us-east-1``.

>>> api = next(a for a in CATALOG if a.name == "CreateLogStream")
>>> (api.source, api.read_only, api.heat)
('logs.amazonaws.com', False, 'hot')
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CatalogApi:
    """One API of the catalogue: service short name, ``eventName``, read-only flag and heat."""

    service: str
    name: str
    read_only: bool
    heat: str  # "hot" | "warm" | "cold"

    @property
    def source(self) -> str:
        """The CloudTrail ``eventSource``."""
        return f"{self.service}.amazonaws.com"


GLOBAL_SERVICES = frozenset({"iam", "route53"})
HOME_REGION = "us-east-1"

# "[service] error codes", then "<r|w><h|w|c> eventNames" per read/write and heat (hot, warm, cold);
# indented lines continue the line above.
_TABLE = """
[ec2] Client.UnauthorizedOperation Client.RequestLimitExceeded Client.InvalidInstanceID.NotFound
    Client.InvalidParameterValue Server.InternalError Client.DryRunOperation
    Client.InvalidGroup.NotFound Server.InsufficientInstanceCapacity
rh DescribeInstances DescribeInstanceStatus DescribeSecurityGroups DescribeNetworkInterfaces
rw DescribeVolumes DescribeSnapshots DescribeSubnets DescribeVpcs DescribeImages DescribeTags
    DescribeRegions DescribeAccountAttributes DescribeLaunchTemplateVersions DescribeAvailabilityZones
    DescribeAddresses DescribeRouteTables
rc GetConsoleOutput DescribeKeyPairs GetPasswordData
wh CreateTags CreateNetworkInterface DeleteNetworkInterface
ww DeleteTags RunInstances TerminateInstances StartInstances StopInstances AttachNetworkInterface
    ModifyNetworkInterfaceAttribute CreateSnapshot DeleteSnapshot CreateVolume AttachVolume DetachVolume
    DeleteVolume AssociateAddress
wc AuthorizeSecurityGroupIngress RevokeSecurityGroupIngress CreateSecurityGroup DeleteSecurityGroup
    ModifyInstanceAttribute CreateKeyPair ImportKeyPair DeleteVpc CreateVpc AllocateAddress
    ModifySnapshotAttribute CreateImage DeregisterImage
[iam] AccessDenied NoSuchEntityException EntityAlreadyExistsException LimitExceededException
    DeleteConflictException Throttling
rw GetRole GetUser ListRoles ListAttachedRolePolicies ListRolePolicies GetPolicy GetPolicyVersion
    ListUsers ListAccessKeys ListPolicies GetInstanceProfile ListInstanceProfilesForRole
    GetAccountSummary
rc GetAccountAuthorizationDetails ListMFADevices
ww TagRole
wc CreateRole DeleteRole AttachRolePolicy DetachRolePolicy PutRolePolicy DeleteRolePolicy
    CreateAccessKey DeleteAccessKey UpdateAccessKey CreateUser DeleteUser UpdateAssumeRolePolicy
    CreatePolicyVersion CreateLoginProfile AddUserToGroup CreateServiceLinkedRole
[s3] AccessDenied NoSuchBucket NoSuchBucketPolicy NoSuchTagSet
    ServerSideEncryptionConfigurationNotFoundError NoSuchLifecycleConfiguration NoSuchCORSConfiguration
    NoSuchPublicAccessBlockConfiguration
rh GetBucketLocation
rw ListBuckets GetBucketAcl GetBucketPolicy GetBucketTagging GetBucketEncryption GetBucketVersioning
    GetBucketLogging GetBucketPublicAccessBlock GetBucketLifecycle GetBucketCors GetBucketPolicyStatus
    GetBucketOwnershipControls
ww PutBucketTagging
wc CreateBucket DeleteBucket PutBucketPolicy DeleteBucketPolicy PutBucketAcl PutBucketEncryption
    PutBucketVersioning PutBucketLifecycle PutBucketPublicAccessBlock PutBucketLogging
    PutBucketNotification
[sts] AccessDenied ExpiredTokenException RegionDisabledException InvalidIdentityToken
rh AssumeRole GetCallerIdentity AssumeRoleWithWebIdentity
rw GetSessionToken AssumeRoleWithSAML
rc GetFederationToken
[lambda] ResourceNotFoundException AccessDenied TooManyRequestsException ResourceConflictException
    InvalidParameterValueException ServiceException
rw ListFunctions20150331 GetFunction20150331v2 GetFunctionConfiguration20150331v2
    ListVersionsByFunction20150331 GetPolicy20150331v2 ListEventSourceMappings20150331
    GetAccountSettings20160819 ListAliases20150331 ListTags20170331
ww UpdateFunctionCode20150331v2 UpdateFunctionConfiguration20150331v2 PublishVersion20150331
    UpdateAlias20150331 UpdateEventSourceMapping20150331
wc CreateFunction20150331 DeleteFunction20150331 AddPermission20150331v2 RemovePermission20150331v2
    CreateEventSourceMapping20150331 PutFunctionConcurrency20171031 TagResource20170331v2
[kms] AccessDenied NotFoundException DisabledException ThrottlingException KMSInvalidStateException
    InvalidCiphertextException IncorrectKeyException
rh Decrypt Encrypt GenerateDataKey DescribeKey
rw ListAliases ListKeys GetKeyPolicy GetKeyRotationStatus ListGrants GenerateDataKeyWithoutPlaintext
    ListResourceTags
wh CreateGrant
ww RetireGrant
wc RevokeGrant CreateKey ScheduleKeyDeletion DisableKey EnableKeyRotation PutKeyPolicy CreateAlias
    DeleteAlias TagResource CancelKeyDeletion
[autoscaling] AccessDenied ValidationError Throttling ScalingActivityInProgress AlreadyExists
    ResourceContention
rh DescribeAutoScalingGroups
rw DescribeScalingActivities DescribeLaunchConfigurations DescribeAutoScalingInstances DescribePolicies
    DescribeLifecycleHooks DescribeTags
ww SetDesiredCapacity UpdateAutoScalingGroup CompleteLifecycleAction RecordLifecycleActionHeartbeat
    SetInstanceHealth TerminateInstanceInAutoScalingGroup
wc PutScalingPolicy CreateAutoScalingGroup DeleteAutoScalingGroup CreateLaunchConfiguration
    DeleteLaunchConfiguration PutLifecycleHook
[ssm] ThrottlingException ParameterNotFound AccessDenied InvalidInstanceId ParameterAlreadyExists
    ValidationException TooManyUpdates InvalidDocument
rh GetParameter GetParameters GetParametersByPath ListInstanceAssociations
rw DescribeInstanceInformation DescribeParameters ListCommands ListCommandInvocations ListAssociations
    DescribeAssociation GetDocument GetCommandInvocation
wh UpdateInstanceInformation UpdateInstanceAssociationStatus PutInventory
ww PutParameter SendCommand PutComplianceItems
wc DeleteParameter StartSession TerminateSession CreateAssociation DeleteAssociation
    LabelParameterVersion
[cloudformation] ValidationError AlreadyExistsException AccessDenied Throttling
    InsufficientCapabilitiesException LimitExceededException ChangeSetNotFound
rh DescribeStacks
rw ListStacks DescribeStackEvents GetTemplate DescribeStackResources DescribeChangeSet
    ListStackResources GetTemplateSummary ListExports DescribeStackResource
ww UpdateStack CreateChangeSet ExecuteChangeSet DeleteChangeSet SignalResource
wc CreateStack DeleteStack ContinueUpdateRollback SetStackPolicy UpdateTerminationProtection
[rds] DBInstanceNotFound AccessDenied InvalidDBInstanceState DBSnapshotAlreadyExists Throttling
    InvalidParameterCombination DBClusterNotFoundFault
rh DescribeDBInstances
rw DescribeDBClusters DescribeDBSnapshots DescribeDBClusterSnapshots DescribeDBEngineVersions
    DescribeEvents ListTagsForResource DescribeDBParameterGroups DescribeDBSubnetGroups
    DescribeDBLogFiles DescribePendingMaintenanceActions
ww CreateDBSnapshot DeleteDBSnapshot CreateDBClusterSnapshot DeleteDBClusterSnapshot AddTagsToResource
wc ModifyDBInstance RebootDBInstance CreateDBInstance DeleteDBInstance ModifyDBCluster StopDBInstance
    StartDBInstance CopyDBSnapshot ModifyDBSnapshotAttribute
[dynamodb] ResourceNotFoundException ResourceInUseException AccessDenied LimitExceededException
    ValidationException ThrottlingException
rh DescribeTable
rw ListTables DescribeTimeToLive DescribeContinuousBackups ListTagsOfResource DescribeLimits ListBackups
    DescribeKinesisStreamingDestination DescribeContributorInsights
ww UpdateTable CreateBackup DeleteBackup TagResource
wc CreateTable DeleteTable UntagResource UpdateTimeToLive UpdateContinuousBackups RestoreTableFromBackup
[sns] NotFound AuthorizationError InvalidParameter Throttling
rw ListTopics GetTopicAttributes ListSubscriptionsByTopic GetSubscriptionAttributes ListSubscriptions
    ListTagsForResource
ww Subscribe Unsubscribe
wc CreateTopic DeleteTopic SetTopicAttributes SetSubscriptionAttributes ConfirmSubscription TagResource
    AddPermission
[sqs] AWS.SimpleQueueService.NonExistentQueue AccessDenied QueueAlreadyExists InvalidParameterValue
    RequestThrottled
rh GetQueueAttributes GetQueueUrl
rw ListQueues ListQueueTags ListDeadLetterSourceQueues
ww CreateQueue DeleteQueue
wc SetQueueAttributes PurgeQueue TagQueue AddPermission
[logs] ResourceAlreadyExistsException ResourceNotFoundException ThrottlingException
    AccessDeniedException InvalidParameterException LimitExceededException
rh DescribeLogGroups DescribeLogStreams
rw DescribeSubscriptionFilters DescribeMetricFilters ListTagsLogGroup DescribeQueries
    DescribeExportTasks DescribeDestinations DescribeResourcePolicies
wh CreateLogStream
ww CreateLogGroup PutRetentionPolicy DeleteLogStream TagLogGroup StartQuery
wc DeleteLogGroup PutSubscriptionFilter DeleteSubscriptionFilter PutMetricFilter CreateExportTask
    PutResourcePolicy AssociateKmsKey
[secretsmanager] ResourceNotFoundException AccessDeniedException InvalidRequestException
    DecryptionFailure ThrottlingException ResourceExistsException
rh GetSecretValue DescribeSecret
rw ListSecrets GetResourcePolicy ListSecretVersionIds GetRandomPassword
ww PutSecretValue RotateSecret UpdateSecretVersionStage
wc CreateSecret UpdateSecret DeleteSecret RestoreSecret TagResource PutResourcePolicy
[ecr] RepositoryNotFoundException ImageNotFoundException AccessDenied ThrottlingException
    LayerAlreadyExistsException ImageAlreadyExistsException
rh GetAuthorizationToken BatchGetImage GetDownloadUrlForLayer
rw DescribeRepositories DescribeImages ListImages BatchCheckLayerAvailability GetLifecyclePolicy
    DescribeImageScanFindings GetRepositoryPolicy
ww PutImage InitiateLayerUpload CompleteLayerUpload UploadLayerPart BatchDeleteImage
wc CreateRepository DeleteRepository PutLifecyclePolicy SetRepositoryPolicy
    PutImageScanningConfiguration
[ecs] AccessDeniedException ClientException ServerException InvalidParameterException
    ThrottlingException ClusterNotFoundException
rh DescribeServices DescribeTasks ListTasks DiscoverPollEndpoint
rw DescribeTaskDefinition ListServices DescribeClusters ListClusters DescribeContainerInstances
    ListContainerInstances
wh SubmitTaskStateChange
ww SubmitContainerStateChange RunTask StopTask UpdateService RegisterTaskDefinition TagResource
    RegisterContainerInstance
wc DeregisterTaskDefinition CreateService DeleteService UpdateContainerInstancesState ExecuteCommand
[elasticloadbalancing] AccessDenied TargetGroupNotFound InvalidTarget Throttling LoadBalancerNotFound
    ValidationError
rh DescribeLoadBalancers DescribeTargetHealth
rw DescribeTargetGroups DescribeListeners DescribeRules DescribeTags DescribeLoadBalancerAttributes
    DescribeTargetGroupAttributes
ww RegisterTargets DeregisterTargets ModifyRule AddTags
wc ModifyTargetGroupAttributes CreateTargetGroup DeleteTargetGroup ModifyListener CreateRule DeleteRule
    SetSecurityGroups ModifyLoadBalancerAttributes
[monitoring] AccessDenied ResourceNotFound LimitExceeded Throttling InvalidParameterValue
rh DescribeAlarms
rw DescribeAlarmHistory DescribeAlarmsForMetric GetDashboard ListDashboards DescribeAnomalyDetectors
    ListTagsForResource DescribeInsightRules
ww PutMetricAlarm DeleteAlarms SetAlarmState
wc PutDashboard DisableAlarmActions EnableAlarmActions TagResource PutCompositeAlarm DeleteDashboards
[events] AccessDeniedException ResourceNotFoundException ValidationException ThrottlingException
    LimitExceededException
rw DescribeRule ListRules ListTargetsByRule DescribeEventBus ListTagsForResource ListEventBuses
ww PutRule PutTargets
wc DeleteRule RemoveTargets EnableRule DisableRule PutPermission TagResource
[route53] AccessDenied NoSuchHostedZone InvalidChangeBatch Throttling PriorRequestNotComplete
rw ListHostedZones ListResourceRecordSets GetChange GetHostedZone ListHealthChecks
ww ChangeResourceRecordSets
wc CreateHostedZone DeleteHostedZone ChangeTagsForResource CreateHealthCheck
[cloudtrail] AccessDenied TrailNotFoundException InvalidTrailNameException ThrottlingException
rw DescribeTrails GetTrailStatus LookupEvents GetEventSelectors ListTrails GetInsightSelectors
wc StopLogging DeleteTrail UpdateTrail PutEventSelectors CreateTrail StartLogging PutInsightSelectors
[config] AccessDeniedException NoSuchConfigRuleException ThrottlingException
    InvalidParameterValueException
rw DescribeConfigRules DescribeConfigurationRecorders DescribeComplianceByConfigRule
    GetComplianceDetailsByConfigRule DescribeConfigurationRecorderStatus
wh PutEvaluations
wc PutConfigRule StopConfigurationRecorder DeleteConfigRule StartConfigRulesEvaluation
"""


def _parse(table: str) -> dict[str, tuple[str, dict[str, str]]]:
    services: dict[str, tuple[str, dict[str, str]]] = {}
    lines: list[str] = []
    for raw in table.strip().splitlines():
        if raw.startswith(" "):
            lines[-1] += " " + raw.strip()
        else:
            lines.append(raw)
    service = ""
    for line in lines:
        head, _, rest = line.partition(" ")
        if head.startswith("["):
            service = head.strip("[]")
            services[service] = (rest, {})
        else:
            services[service][1][head] = rest
    return services


_SERVICES = _parse(_TABLE)

_HEAT = {"h": "hot", "w": "warm", "c": "cold"}

CATALOG: tuple[CatalogApi, ...] = tuple(
    CatalogApi(service, name, group[0] == "r", _HEAT[group[1]])
    for service, (_, groups) in _SERVICES.items()
    for group, names in groups.items()
    for name in names.split()
)

ERROR_CODES: dict[str, tuple[str, ...]] = {s: tuple(codes.split()) for s, (codes, _) in _SERVICES.items()}

_MESSAGES: dict[str, str] = {
    "AccessDenied": "User: {arn} is not authorized to perform: {action} because no identity-based policy "
    "allows the {action} action",
    "AccessDeniedException": "User: {arn} is not authorized to perform: {action} on resource because no "
    "identity-based policy allows the {action} action",
    "Client.UnauthorizedOperation": "You are not authorized to perform this operation. User: {arn} is not "
    "authorized to perform: {action}",
    "AuthorizationError": "User: {arn} is not authorized to perform: {action}",
    "Throttling": "Rate exceeded",
    "ThrottlingException": "Rate exceeded",
    "Client.RequestLimitExceeded": "Request limit exceeded.",
    "RequestThrottled": "Request is throttled.",
    "TooManyRequestsException": "Rate Exceeded.",
    "TooManyUpdates": "Too many updates for the same resource, please retry.",
    "ExpiredTokenException": "The security token included in the request is expired",
    "ValidationError": "1 validation error detected: Value at the request failed to satisfy constraint",
    "ValidationException": "1 validation error detected: Value null at 'name' failed to satisfy constraint",
}


def error_message(code: str, arn: str | None, service: str, name: str) -> str:
    """A plausible ``errorMessage`` for ``code`` raised by ``service:name`` for the caller ``arn``."""
    template = _MESSAGES.get(code)
    if template is None:
        words = code.replace("Client.", "").replace("Server.", "").replace("Exception", "").split(".")
        return f"{words[-1]}: the request for {name} could not be completed"
    action = f"{service}:{name}"
    return template.format(arn=arn or "AWS Internal", action=action)


_WRITE_ONLY_HINTS: tuple[str, ...] = (
    "AlreadyExist",
    "Exists",
    "InUse",
    "Conflict",
    "Capacity",
    "DryRun",
    "InProgress",
)
_WRITE_ONLY_HINTS += ("TooMany", "Contention", "Insufficient", "State", "Capabilities")


def plausible_errors(service: str, read_only: bool) -> tuple[str, ...]:
    """The service's error codes that an API of this kind can return (reads cannot conflict)."""
    codes = ERROR_CODES[service]
    if not read_only:
        return codes
    return tuple(c for c in codes if not any(h in c for h in _WRITE_ONLY_HINTS))
