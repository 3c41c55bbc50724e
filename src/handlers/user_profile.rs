//! `user_profile`: stores the sender's PSID and, once per TTL, what the User Profile API will
//! tell about them. A profile that cannot be fetched never fails the chain.

use async_trait::async_trait;
use serde::Deserialize;

use super::{Handler, HandlerError};
use crate::context::Context;
use crate::graph::UserProfile as Profile;
use crate::store::{now_ms, users};

/// Stores the user and their profile.
#[derive(Debug, Clone)]
pub struct UserProfile {
    extra_fields: Vec<&'static str>,
}

/// Arguments of `user_profile`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserProfileArgs {
    /// Fields beyond first_name, last_name and profile_pic that need extra permissions:
    /// any of `locale`, `timezone`, `gender`.
    #[serde(default)]
    pub extra_fields: Vec<String>,
}

const BASIC_FIELDS: [&str; 3] = ["first_name", "last_name", "profile_pic"];
/// A profile that could not be fetched is asked for again after this long.
const FAILED_FETCH_RETRY_MS: i64 = 3_600_000;
const EXTRA_FIELDS: [&str; 3] = ["locale", "timezone", "gender"];

impl UserProfile {
    /// Checks the extra fields against the ones the API knows.
    pub fn from_args(args: UserProfileArgs) -> Result<Self, String> {
        let mut extra_fields = Vec::new();
        for field in &args.extra_fields {
            match EXTRA_FIELDS.iter().find(|f| **f == field) {
                Some(f) => extra_fields.push(*f),
                None => {
                    return Err(format!(
                        "unknown profile field \"{field}\" (known: {})",
                        EXTRA_FIELDS.join(", ")
                    ));
                }
            }
        }
        Ok(Self { extra_fields })
    }

    async fn fetch(&self, cx: &Context, psid: &str) -> Option<Profile> {
        let mut fields: Vec<&str> = BASIC_FIELDS.to_vec();
        fields.extend(&self.extra_fields);
        match cx.user_profile(psid, &fields).await {
            Ok(profile) => return Some(profile),
            // Without the permission for an extra field the whole call fails: ask again
            // for the basic fields alone.
            Err(e) if !self.extra_fields.is_empty() && e.code() == Some(100) => {
                log::info!(
                    "event {}: profile fields {:?} not permitted, fetching the basic ones",
                    cx.event.inbox_id,
                    self.extra_fields
                );
            }
            Err(e) => {
                log::warn!("event {}: user profile not fetched: {e}", cx.event.inbox_id);
                return None;
            }
        }
        match cx.user_profile(psid, &BASIC_FIELDS).await {
            Ok(profile) => Some(profile),
            Err(e) => {
                log::warn!("event {}: user profile not fetched: {e}", cx.event.inbox_id);
                None
            }
        }
    }
}

/// The stored form of a fetched profile.
fn profile_update(p: Profile) -> users::ProfileUpdate {
    users::ProfileUpdate {
        first_name: p.first_name,
        last_name: p.last_name,
        profile_pic: p.profile_pic,
        locale: p.locale,
        timezone: p.timezone,
        gender: p.gender,
    }
}

#[async_trait]
impl Handler for UserProfile {
    fn should_handle(&self, cx: &Context) -> bool {
        // Echoes come from the Page itself; their sender is not a user.
        cx.psid().is_some() && cx.event.kind != crate::event::ReceivingType::Echo
    }

    async fn handle(&self, cx: &mut Context) -> Result<(), HandlerError> {
        let Some(psid) = cx.psid().map(str::to_owned) else {
            return Ok(());
        };
        let page_id = cx.event.page_id.clone().unwrap_or_default();
        // A chat-plugin guest (user_ref) has no profile to fetch.
        let is_guest = cx
            .event
            .messaging
            .sender
            .as_ref()
            .is_some_and(|s| s.id.is_none());
        let stored = match cx.take_prefetched_user() {
            Some(stored) => stored,
            None => {
                let (page_id, psid) = (page_id.clone(), psid.clone());
                cx.store()
                    .run(move |conn| users::find(conn, &page_id, &psid))
                    .await?
            }
        };
        let ttl_ms = i64::try_from(cx.profile_ttl().as_millis()).unwrap_or(i64::MAX);
        let now = now_ms();
        // Marked as fetched an hour before it expires: tried again in an hour.
        let failed_fetch_at = now
            .saturating_sub(ttl_ms)
            .saturating_add(FAILED_FETCH_RETRY_MS);
        let Some(user) = stored else {
            if is_guest {
                let user = cx
                    .store()
                    .run(move |conn| users::ensure(conn, &page_id, &psid))
                    .await?;
                cx.set_user(user);
                return Ok(());
            }
            // A new user: fetch first, then store the user and the profile in one statement.
            let update = self.fetch(cx, &psid).await.map(profile_update);
            let fetched_at = if update.is_some() {
                now
            } else {
                failed_fetch_at
            };
            let user = cx
                .store_new_user(users::NewProfiledUser {
                    page_id,
                    psid,
                    profile: update,
                    fetched_at,
                })
                .await?;
            cx.set_user(user);
            return Ok(());
        };
        let fresh = user
            .profile_fetched_at
            .is_some_and(|at| now.saturating_sub(at) < ttl_ms);
        if fresh || is_guest {
            cx.set_user(user);
            return Ok(());
        }
        let update = self.fetch(cx, &psid).await.map(|p| {
            let mut update = profile_update(p);
            // Keep the last known locale when this fetch did not include it (the user's own
            // choice lives in `chosen_locale` and is never touched here).
            update.locale = update.locale.or_else(|| user.locale.clone());
            update
        });
        let user = cx
            .store()
            .run(move |conn| match &update {
                Some(update) => users::save_profile(conn, &page_id, &psid, update, now),
                None => users::touch_profile_fetch(conn, &page_id, &psid, failed_fetch_at),
            })
            .await?;
        if let Some(user) = user {
            cx.set_user(user);
        }
        Ok(())
    }
}
