"""AccountSetup: what API Gateway needs once per account and region, deployed before any API stack.

    API Gateway (account setting, one per region) --assumes--> ApiGatewayCloudWatchRole --> CloudWatch Logs

A REST API stage with execution or access logging (every PatternRestApi) can only be created when
the region's API Gateway account setting names a CloudWatch role; otherwise the deploy fails with
"CloudWatch Logs role ARN must be set in account settings to enable logging". That setting
(`AWS::ApiGateway::Account`) is one per account and region and shared by every API there, so no
pattern stack owns it: destroying one pattern can never break another's logging, and two stacks
never overwrite each other's role.

Deploy it once per account and region, before the first API stack. Skip it (or synth with
`-c account_setup=false`) when `aws apigateway get-account` already shows a `cloudwatchRoleArn`
managed elsewhere: deploying it would repoint that setting at this stack's role.

The role is removed on `cdk destroy` like everything else (no retained resource in a sandbox).
The account setting itself outlives the stack (CloudFormation cannot unset it), still naming the
deleted role, so API logs stop arriving until AccountSetup is deployed again: destroy it last.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, RemovalPolicy, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

# The AWS-managed policy API Gateway documents for this role (logs:CreateLogGroup,
# CreateLogStream, DescribeLogGroups, DescribeLogStreams, PutLogEvents, GetLogEvents,
# FilterLogEvents). It cannot be scoped tighter: API Gateway creates and names the execution log
# groups itself (`API-Gateway-Execution-Logs_<api id>/<stage>`) and writes access logs to any log
# group a stage names, in any stack.
PUSH_TO_CLOUDWATCH_POLICY = "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
CLOUDWATCH_ROLE_OUTPUT = "ApiGatewayCloudWatchRoleArn"


class AccountSetupStack(Stack):
    """API Gateway's CloudWatch role and the region's account setting that points at it."""

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(
            scope, id, description="AccountSetup: API Gateway's CloudWatch role, once per account and region", **kwargs
        )
        self.cloud_watch_role = iam.Role(
            self,
            "ApiGatewayCloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="Lets API Gateway write every REST API's execution and access logs in this region",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(PUSH_TO_CLOUDWATCH_POLICY)],
        )
        # Deliberately DESTROY, whatever keep_data says: the role holds no data, and the stack
        # recreates it on the next deploy.
        self.cloud_watch_role.apply_removal_policy(RemovalPolicy.DESTROY)
        Validations.of(self.cloud_watch_role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{PUSH_TO_CLOUDWATCH_POLICY}]",
                reason="API Gateway's region-wide logging role; this AWS-managed service-role policy is the one "
                "API Gateway documents, grants only CloudWatch Logs actions, and cannot be scoped to log groups "
                "API Gateway names itself.",
            )
        )
        self.api_gateway_account = apigw.CfnAccount(
            self, "ApiGatewayAccount", cloud_watch_role_arn=self.cloud_watch_role.role_arn
        )
        CfnOutput(
            self,
            CLOUDWATCH_ROLE_OUTPUT,
            value=self.cloud_watch_role.role_arn,
            description="The role API Gateway logs with in this region",
        )
