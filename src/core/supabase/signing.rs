//! How pglane signs access tokens: HS256 with a project's legacy JWT secret, or ES256 / RS256
//! with the project's own asymmetric signing key, a private JWK (EC P-256 or RSA, with a `kid`)
//! such as `supabase gen signing-key` prints. Keys and secrets are never printed: their `Debug`
//! forms are redacted and errors name only where a key came from.

use super::settings::JwtSecret;
use crate::core::error::{Error, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{KeyInit, Mac};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, RsaKeyPair};
use serde_json::{json, Map, Value};

/// The JWS algorithm of an asymmetric key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 with SHA-256 (`kty: EC`, `crv: P-256`).
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`kty: RSA`).
    Rs256,
}

impl KeyAlgorithm {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Es256 => "ES256",
            KeyAlgorithm::Rs256 => "RS256",
        }
    }
}

enum KeyPair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// A private signing key from a JWK: its `kid`, algorithm, key pair and public JWK. Its `Debug`
/// form shows the `kid` and algorithm only.
pub struct SigningKey {
    kid: String,
    alg: KeyAlgorithm,
    pair: KeyPair,
    public_jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SigningKey({}, kid {:?}, <private key redacted>)",
            self.alg.as_str(),
            self.kid
        )
    }
}

fn key_error(source: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid_config(format!(
        "{source} is not a usable signing key: {why} (give the private JWK of the project's signing key, e.g. the output of `supabase gen signing-key --algorithm ES256`)"
    ))
}

/// A base64url member of a JWK, decoded. The value is never echoed.
fn member(jwk: &Map<String, Value>, name: &str, source: &str) -> Result<Vec<u8>> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| key_error(source, format!("the JWK has no {name:?} member")))?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| key_error(source, format!("member {name:?} is not base64url")))
}

/// A big-endian integer as ring wants it: no leading zero bytes.
fn unsigned(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros.min(bytes.len().saturating_sub(1)));
    bytes
}

/// A P-256 coordinate or scalar, left-padded to 32 bytes.
fn field_element(bytes: Vec<u8>, name: &str, source: &str) -> Result<Vec<u8>> {
    if bytes.len() > 32 {
        return Err(key_error(
            source,
            format!("member {name:?} is longer than a P-256 value"),
        ));
    }
    let mut out = vec![0u8; 32 - bytes.len()];
    out.extend(bytes);
    Ok(out)
}

impl SigningKey {
    /// Reads a key from text: a private JWK as JSON (an object, an array of JWKs, or a JWKS
    /// `{ "keys": [...] }`, whose first key is used, as Supabase signs with the first key of
    /// `signing_keys_path`), or the path of a file holding that JSON. `source` names where the
    /// text came from (`signingKey`, `SUPABASE_JWT_PRIVATE_KEY`) for errors, which never hold
    /// the key.
    pub fn from_text(text: &str, source: &str) -> Result<SigningKey> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(key_error(source, "it is empty"));
        }
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            let value: Value = serde_json::from_str(trimmed).map_err(|e| {
                key_error(
                    source,
                    format!(
                        "it is not valid JSON (line {}, column {})",
                        e.line(),
                        e.column()
                    ),
                )
            })?;
            return SigningKey::from_json(&value, source);
        }
        let path = std::path::Path::new(trimmed);
        let content = std::fs::read_to_string(path).map_err(|e| {
            key_error(
                source,
                format!(
                    "it is neither JSON nor a readable file ({}: {})",
                    path.display(),
                    e.kind()
                ),
            )
        })?;
        SigningKey::from_text_in_file(&content, &format!("{source} (file {})", path.display()))
    }

    fn from_text_in_file(content: &str, source: &str) -> Result<SigningKey> {
        let value: Value = serde_json::from_str(content.trim()).map_err(|e| {
            key_error(
                source,
                format!(
                    "the file is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        SigningKey::from_json(&value, source)
    }

    /// A key from a parsed JWK (or an array of them, or a JWKS; the first key is used).
    pub fn from_json(value: &Value, source: &str) -> Result<SigningKey> {
        let jwk = match value {
            Value::Object(m) if m.contains_key("keys") => m
                .get("keys")
                .and_then(Value::as_array)
                .and_then(|keys| keys.first()),
            Value::Array(keys) => keys.first(),
            other => Some(other),
        }
        .and_then(Value::as_object)
        .ok_or_else(|| key_error(source, "it holds no JWK object"))?;
        let kid = jwk
            .get("kid")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                key_error(
                    source,
                    "the JWK has no \"kid\": Supabase finds the verifying key by it",
                )
            })?
            .to_string();
        if !jwk.contains_key("d") {
            return Err(key_error(
                source,
                "the JWK is a public key (it has no \"d\"): pglane signs, so it needs the private one",
            ));
        }
        let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or("");
        let declared = jwk.get("alg").and_then(Value::as_str);
        let rng = SystemRandom::new();
        let (alg, pair, public_jwk) = match kty {
            "EC" => {
                let crv = jwk.get("crv").and_then(Value::as_str).unwrap_or("");
                if crv != "P-256" {
                    return Err(key_error(
                        source,
                        format!("curve {crv:?} is not supported; Supabase signs ES256 with P-256"),
                    ));
                }
                let x = field_element(member(jwk, "x", source)?, "x", source)?;
                let y = field_element(member(jwk, "y", source)?, "y", source)?;
                let d = field_element(member(jwk, "d", source)?, "d", source)?;
                let mut point = vec![4u8];
                point.extend(&x);
                point.extend(&y);
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &d,
                    &point,
                    &rng,
                )
                .map_err(|e| key_error(source, format!("the EC key was rejected ({e})")))?;
                let public = json!({
                    "kty": "EC", "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(&x), "y": URL_SAFE_NO_PAD.encode(&y),
                });
                (KeyAlgorithm::Es256, KeyPair::Ec(pair), public)
            }
            "RSA" => {
                let n = unsigned(member(jwk, "n", source)?);
                let e = unsigned(member(jwk, "e", source)?);
                let mut private = Vec::new();
                for name in ["d", "p", "q", "dp", "dq", "qi"] {
                    private.push(unsigned(member(jwk, name, source).map_err(|_| {
                        key_error(
                            source,
                            format!("the RSA JWK has no {name:?} member (pglane needs the full private key with its CRT values)"),
                        )
                    })?));
                }
                let components = ring::rsa::KeyPairComponents {
                    public_key: ring::rsa::PublicKeyComponents {
                        n: n.as_slice(),
                        e: e.as_slice(),
                    },
                    d: private[0].as_slice(),
                    p: private[1].as_slice(),
                    q: private[2].as_slice(),
                    dP: private[3].as_slice(),
                    dQ: private[4].as_slice(),
                    qInv: private[5].as_slice(),
                };
                let pair = RsaKeyPair::from_components(&components)
                    .map_err(|e| key_error(source, format!("the RSA key was rejected ({e})")))?;
                let public = json!({
                    "kty": "RSA",
                    "n": URL_SAFE_NO_PAD.encode(&n), "e": URL_SAFE_NO_PAD.encode(&e),
                });
                (KeyAlgorithm::Rs256, KeyPair::Rsa(pair), public)
            }
            other => {
                return Err(key_error(
                    source,
                    format!("key type {other:?} is not supported; use an EC P-256 (ES256) or RSA (RS256) key"),
                ))
            }
        };
        if let Some(declared) = declared {
            if declared != alg.as_str() {
                return Err(key_error(
                    source,
                    format!(
                        "its \"alg\" is {declared:?} but a {kty} key signs {}",
                        alg.as_str()
                    ),
                ));
            }
        }
        let mut public_jwk = public_jwk;
        public_jwk["kid"] = Value::from(kid.as_str());
        public_jwk["alg"] = Value::from(alg.as_str());
        public_jwk["use"] = Value::from("sig");
        public_jwk["key_ops"] = json!(["verify"]);
        Ok(SigningKey {
            kid,
            alg,
            pair,
            public_jwk,
        })
    }

    /// The key id, the `kid` of every token it signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// ES256 or RS256.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.alg
    }

    /// The public half as a JWK (`kty`, `crv`/`x`/`y` or `n`/`e`, `kid`, `alg`, `use`,
    /// `key_ops`), as a JWKS endpoint serves it.
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    fn signature(&self, input: &[u8]) -> Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.pair {
            KeyPair::Ec(pair) => pair
                .sign(&rng, input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::internal("ES256 signing failed")),
            KeyPair::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, input, &mut sig)
                    .map_err(|_| Error::internal("RS256 signing failed"))?;
                Ok(sig)
            }
        }
    }
}

/// What signs access tokens.
#[derive(Debug)]
pub enum Signer {
    /// HS256 with the project's (legacy) JWT secret, as local stacks sign by default.
    Secret(JwtSecret),
    /// ES256 or RS256 with the project's asymmetric signing key.
    Key(Box<SigningKey>),
}

impl Signer {
    /// A compact JWS of `claims`: `base64url(header).base64url(claims).base64url(signature)`,
    /// the header `{"alg":"HS256","typ":"JWT"}` or `{"alg":"ES256"|"RS256","kid":…,"typ":"JWT"}`
    /// as Supabase Auth writes them.
    pub fn sign(&self, claims: &Value) -> Result<String> {
        let header = match self {
            Signer::Secret(_) => r#"{"alg":"HS256","typ":"JWT"}"#.to_string(),
            Signer::Key(key) => {
                json!({ "alg": key.alg.as_str(), "kid": key.kid, "typ": "JWT" }).to_string()
            }
        };
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.as_bytes()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match self {
            Signer::Secret(secret) => hmac_sha256(secret.0.as_bytes(), signing_input.as_bytes()),
            Signer::Key(key) => key.signature(signing_input.as_bytes())?,
        };
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// `HS256`, `ES256` or `RS256`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Signer::Secret(_) => "HS256",
            Signer::Key(key) => key.alg.as_str(),
        }
    }
}

pub(super) fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The claims of a compact JWS, decoded without checking its signature (pglane reads the
/// `session_id` of a token Supabase Auth just issued to it).
pub fn unverified_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::error::ErrorCode;
    use crate::core::supabase::settings::LOCAL_DEV_JWT_SECRET;

    pub(crate) const ES256_JWK: &str = include_str!("testdata/es256.jwk.json");
    pub(crate) const RS256_JWK: &str = include_str!("testdata/rs256.jwk.json");

    fn parts(token: &str) -> (Value, Vec<u8>, Vec<u8>) {
        let p: Vec<&str> = token.split('.').collect();
        assert_eq!(p.len(), 3);
        let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p[0]).unwrap()).unwrap();
        let input = format!("{}.{}", p[0], p[1]).into_bytes();
        (header, input, URL_SAFE_NO_PAD.decode(p[2]).unwrap())
    }

    fn b64(v: &Value) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap()
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hs256_tokens_have_the_header_supabase_writes_and_verify_with_the_secret() {
        let signer = Signer::Secret(JwtSecret::new(LOCAL_DEV_JWT_SECRET, "test").unwrap());
        let token = signer.sign(&json!({ "sub": "x" })).unwrap();
        let (header, input, sig) = parts(&token);
        assert_eq!(header, json!({ "alg": "HS256", "typ": "JWT" }));
        assert_eq!(sig, hmac_sha256(LOCAL_DEV_JWT_SECRET.as_bytes(), &input));
        assert_eq!(unverified_claims(&token).unwrap(), json!({ "sub": "x" }));
    }

    #[test]
    fn es256_tokens_carry_the_kid_and_verify_with_the_public_jwk() {
        let key = SigningKey::from_text(ES256_JWK, "test").unwrap();
        assert_eq!(key.algorithm(), KeyAlgorithm::Es256);
        let public = key.public_jwk().clone();
        assert!(
            public.get("d").is_none(),
            "the public JWK has no private part"
        );
        let token = Signer::Key(Box::new(key))
            .sign(&json!({ "sub": "x" }))
            .unwrap();
        let (header, input, sig) = parts(&token);
        assert_eq!(
            header,
            json!({ "alg": "ES256", "kid": "test-ec-key", "typ": "JWT" })
        );
        assert_eq!(sig.len(), 64, "JWS ES256 signatures are r || s");
        let mut point = vec![4u8];
        point.extend(b64(&public["x"]));
        point.extend(b64(&public["y"]));
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
            .verify(&input, &sig)
            .expect("verifies with the public key");
    }

    #[test]
    fn rs256_tokens_carry_the_kid_and_verify_with_the_public_jwk() {
        let key = SigningKey::from_text(RS256_JWK, "test").unwrap();
        assert_eq!(key.algorithm(), KeyAlgorithm::Rs256);
        let public = key.public_jwk().clone();
        let token = Signer::Key(Box::new(key))
            .sign(&json!({ "sub": "y" }))
            .unwrap();
        let (header, input, sig) = parts(&token);
        assert_eq!(
            header,
            json!({ "alg": "RS256", "kid": "test-rsa-key", "typ": "JWT" })
        );
        signature::RsaPublicKeyComponents {
            n: b64(&public["n"]),
            e: b64(&public["e"]),
        }
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, &input, &sig)
        .expect("verifies with the public key");
    }

    #[test]
    fn keys_are_read_from_a_jwks_an_array_or_a_file() {
        let jwk: Value = serde_json::from_str(ES256_JWK).unwrap();
        let jwks = json!({ "keys": [jwk.clone()] }).to_string();
        assert_eq!(
            SigningKey::from_text(&jwks, "t").unwrap().kid(),
            "test-ec-key"
        );
        let array = json!([jwk]).to_string();
        assert_eq!(
            SigningKey::from_text(&array, "t").unwrap().kid(),
            "test-ec-key"
        );
        let dir = std::env::temp_dir().join(format!("pglane-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("signing_keys.json");
        std::fs::write(&file, &array).unwrap();
        let key = SigningKey::from_text(file.to_str().unwrap(), "t").unwrap();
        assert_eq!(key.kid(), "test-ec-key");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_keys_are_invalid_config_and_never_show_the_key() {
        let mut jwk: Value = serde_json::from_str(ES256_JWK).unwrap();
        let d = jwk["d"].as_str().unwrap().to_string();
        let check = |text: String, expect: &str| {
            let err = SigningKey::from_text(&text, "SUPABASE_JWT_PRIVATE_KEY").unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidConfig);
            assert!(err.message().contains(expect), "{}", err.message());
            assert!(err.message().contains("SUPABASE_JWT_PRIVATE_KEY"));
            assert!(!err.message().contains(&d), "{}", err.message());
        };
        let mut no_kid = jwk.clone();
        no_kid.as_object_mut().unwrap().remove("kid");
        check(no_kid.to_string(), "no \"kid\"");
        let mut public = jwk.clone();
        public.as_object_mut().unwrap().remove("d");
        check(public.to_string(), "public key");
        let mut wrong_alg = jwk.clone();
        wrong_alg["alg"] = Value::from("RS256");
        check(wrong_alg.to_string(), "signs ES256");
        let mut other_curve = jwk.clone();
        other_curve["crv"] = Value::from("P-384");
        check(other_curve.to_string(), "P-384");
        let mut mismatched = jwk.clone();
        mismatched["x"] = serde_json::from_str::<Value>(RS256_JWK).unwrap()["e"].clone();
        check(mismatched.to_string(), "rejected");
        check(
            format!("{{\"kty\": \"EC\", \"d\": \"{d}\""),
            "not valid JSON",
        );
        check(
            "/nonexistent/pglane-key.json".into(),
            "neither JSON nor a readable file",
        );
        jwk["kty"] = Value::from("OKP");
        check(jwk.to_string(), "not supported");
        let key = SigningKey::from_text(ES256_JWK, "t").unwrap();
        let shown = format!("{key:?}");
        let debug = format!("{shown} {:?}", Signer::Key(Box::new(key)));
        assert!(!debug.contains(&d), "{debug}");
        assert!(debug.contains("redacted"));
    }
}
