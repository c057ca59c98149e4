//! A fake of STS's `AssumeRole`, the one STS call the binaries make themselves (for
//! `--role-arn`). It answers with temporary credentials whose access key id names the role,
//! so a test can check which credentials signed the EKS calls that followed.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::kube::wire::rfc3339;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The access key id the fake hands out for an assumed role.
pub const ASSUMED_ACCESS_KEY_ID: &str = "ASIAFAKEASSUMEDROLE01";

/// One AssumeRole call: its form parameters.
#[derive(Clone, Debug, Default)]
pub struct AssumeRoleCall {
    pub role_arn: Option<String>,
    pub role_session_name: Option<String>,
    pub external_id: Option<String>,
    /// The access key id that signed the call (the base credentials).
    pub signed_by: Option<String>,
}

/// A running fake STS; stops when dropped.
#[derive(Debug)]
pub struct FakeSts {
    server: MockServer,
    calls: Arc<Mutex<Vec<AssumeRoleCall>>>,
}

struct Responder {
    calls: Arc<Mutex<Vec<AssumeRoleCall>>>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let get = |k: &str| {
            form.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        if get("Action").as_deref() != Some("AssumeRole") {
            return ResponseTemplate::new(400).set_body_raw(
                error_xml("InvalidAction", "only AssumeRole is faked").into_bytes(),
                "text/xml",
            );
        }
        let signed_by = request
            .headers
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.split("Credential=").nth(1))
            .and_then(|c| c.split('/').next())
            .map(str::to_owned);
        let call = AssumeRoleCall {
            role_arn: get("RoleArn"),
            role_session_name: get("RoleSessionName"),
            external_id: get("ExternalId"),
            signed_by,
        };
        let session = call.role_session_name.clone().unwrap_or_default();
        let role = call.role_arn.clone().unwrap_or_default();
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(call);
        let expiration = rfc3339(SystemTime::now() + Duration::from_secs(3600));
        let role_name = role.rsplit('/').next().unwrap_or("role");
        let body = format!(
            r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>AROAFAKE:{session}</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/{role_name}/{session}</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{ASSUMED_ACCESS_KEY_ID}</AccessKeyId>
      <SecretAccessKey>fakeAssumedSecretKey000000000000000000000</SecretAccessKey>
      <SessionToken>fakeAssumedSessionToken</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#
        );
        ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "text/xml")
    }
}

fn error_xml(code: &str, message: &str) -> String {
    format!(
        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>0</RequestId></ErrorResponse>"#
    )
}

impl FakeSts {
    pub async fn start() -> FakeSts {
        let server = MockServer::start().await;
        let calls = Arc::new(Mutex::new(Vec::new()));
        Mock::given(any())
            .respond_with(Responder {
                calls: calls.clone(),
            })
            .mount(&server)
            .await;
        FakeSts { server, calls }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_STS`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    pub fn calls(&self) -> Vec<AssumeRoleCall> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
