//! The token files in the task's bootstrap directory: `service-token` (written by
//! mesh-init) and `client-token` (written by the consul-client container), and the rules
//! for replacing and logging them out.
//!
//! consul-ecs wrote (or expects another container of the task to have written) these files,
//! so a symlink at their path was put there by someone else: it is never followed, since
//! reading through it could send another file's content to Consul as `X-Consul-Token`.
//! Reads are bounded ([`consul::TOKEN_FILE_LIMIT`]) and refuse anything but a regular file, so a
//! path at `/dev/zero` or a FIFO fails at once instead of eating memory or blocking.

use std::path::Path;

use consul::{Client, ConsulError, Secret, TokenSource};
use tracing::{info, warn};

use crate::{write_token_file, LoginError};

/// Reads a token file written by consul-ecs or the task's Consul client, as the agent
/// client reads it ([`TokenSource::OwnFile`]: bounded, regular file, no link followed).
/// `Ok(None)` when the file does not exist or holds only white space.
async fn read_token_file(path: &Path) -> Result<Option<Secret>, ConsulError> {
    match TokenSource::OwnFile(path.to_path_buf())
        .current_off_thread()
        .await
    {
        Err(ConsulError::TokenFile { source, .. }) if source.is_not_found() => Ok(None),
        other => other,
    }
}

/// Writes `token` to `path` (atomically, mode 0600) and logs out the token an earlier run
/// left there, which would otherwise stay valid in Consul until the acl-controller reaps
/// it. The earlier token is read before the file is replaced; a symlink or an unreadable
/// file there is replaced without being followed. Failing to log the old token out is only
/// logged: the new login is what matters.
pub async fn replace_token_file(
    server: &Client,
    path: &Path,
    token: &Secret,
) -> Result<(), LoginError> {
    let previous = match read_token_file(path).await {
        Ok(previous) => previous,
        Err(e) => {
            warn!(error = %e, "not logging out whatever an earlier run left in the token file");
            None
        }
    };
    write_token_file(path, token.expose()).await?;
    if let Some(old) = previous.filter(|old| old.expose() != token.expose()) {
        match crate::logout(server, &old).await {
            Ok(()) => info!(path = %path.display(), "logged out the token an earlier run left"),
            Err(e) => warn!(error = %e, "could not log out the token an earlier run left"),
        }
    }
    Ok(())
}

/// Why [`logout_token_file`] could not log a token out.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileLogoutError {
    /// The file is missing, not a regular file, a symlink or too large.
    #[error("{0}")]
    Read(#[source] ConsulError),
    /// The file exists but holds no token.
    #[error("the token file {0} is empty")]
    Empty(String),
    /// Consul refused the logout or could not be reached.
    #[error(transparent)]
    Consul(#[from] ConsulError),
}

/// Logs out the token stored at `path` (`POST /v1/acl/logout` with it). A token Consul
/// already deleted counts as logged out; a missing file is an error (the token it should
/// hold cannot be logged out).
pub async fn logout_token_file(server: &Client, path: &Path) -> Result<(), TokenFileLogoutError> {
    let token = TokenSource::OwnFile(path.to_path_buf())
        .current_off_thread()
        .await
        .map_err(TokenFileLogoutError::Read)?
        .ok_or_else(|| TokenFileLogoutError::Empty(path.display().to_string()))?;
    crate::logout(server, &token).await?;
    Ok(())
}
