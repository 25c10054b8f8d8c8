//! API token secrets: how they are made and how they are hashed for storage. The store keeps
//! only [`hash_secret`] of a secret, so a copy of the database opens nothing.

use base64::Engine as _;
use coursetasks_store::{NewToken, Role, Store, StoreError, TokenRecord};
use rand::RngCore as _;
use sha2::{Digest, Sha256};

/// Every secret starts with this, so a leaked one is recognisable (secret scanners, logs).
pub const SECRET_PREFIX: &str = "ct_";

/// A new random secret: `ct_` and 32 random bytes in unpadded base64url (256 bits, from the
/// thread-local CSPRNG seeded by the operating system).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The stored form of a secret: lowercase hex SHA-256. A fast hash is enough because the
/// secret has 256 random bits (nothing to guess), unlike a password.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stores a new token for `user` (bound to `course` when given) and returns it with its secret,
/// the only time the secret exists outside the caller: the store keeps its hash.
pub async fn mint(
    store: &Store,
    user: &str,
    role: Role,
    course: Option<&str>,
) -> Result<(TokenRecord, String), StoreError> {
    let secret = new_secret();
    let token = store
        .create_token(&NewToken {
            user: user.to_owned(),
            role,
            course_key: course.map(str::to_owned),
            hash: hash_secret(&secret),
        })
        .await?;
    Ok((token, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_hash_to_hex() {
        let a = new_secret();
        let b = new_secret();
        assert!(a.starts_with(SECRET_PREFIX) && a.len() == 3 + 43, "{a}");
        assert_ne!(a, b);
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash_secret(&a).len(), 64);
    }
}
