//! Users the bot has met: PSIDs, what the User Profile API told us, and their counters.
//!
//! A PSID is page-scoped, so a user is a Page and a PSID: the same person has another PSID
//! (and another row) on each Page, and two Pages' equal PSIDs are two users. The Page is the
//! webhook entry's id, `""` for an event that named none (as for conversations).

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use super::group_commit::GroupWork;
use super::schema::users;
use super::{DbConn, StoreError, now_ms};

/// One user, as stored.
#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    /// The Page the user talks to (`""` when their events named none): with the PSID, the key.
    pub page_id: String,
    /// The page-scoped user id.
    pub psid: String,
    /// From the User Profile API.
    pub first_name: Option<String>,
    /// From the User Profile API.
    pub last_name: Option<String>,
    /// From the User Profile API; these URLs expire.
    pub profile_pic: Option<String>,
    /// Facebook's form (`zh_TW`), when the Page may read it.
    pub locale: Option<String>,
    /// Hours from UTC, when the Page may read it.
    pub timezone: Option<f64>,
    /// When the Page may read it.
    pub gender: Option<String>,
    /// When the profile was last fetched (epoch ms), successfully or not.
    pub profile_fetched_at: Option<i64>,
    /// How many thumbs-up stickers the user sent.
    pub thumbups: i64,
    /// First seen (epoch ms).
    pub created_at: i64,
    /// Last changed (epoch ms).
    pub updated_at: i64,
    /// The locale the user picked in the bot (`set_locale`), BCP 47; wins over `locale`.
    pub chosen_locale: Option<String>,
}

impl User {
    /// The locale to speak to this user in: their own choice, else their profile's.
    pub fn effective_locale(&self) -> Option<&str> {
        self.chosen_locale.as_deref().or(self.locale.as_deref())
    }
}

/// Profile fields to store; `None` leaves nothing unknown behind as a fake value.
#[derive(Debug, Clone, Default, PartialEq, AsChangeset, Insertable)]
#[diesel(table_name = users, treat_none_as_null = true)]
pub struct ProfileUpdate {
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Profile picture URL.
    pub profile_pic: Option<String>,
    /// Locale in Facebook's form.
    pub locale: Option<String>,
    /// Hours from UTC.
    pub timezone: Option<f64>,
    /// Gender.
    pub gender: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
struct NewUser<'a> {
    page_id: &'a str,
    psid: &'a str,
    thumbups: i64,
    created_at: i64,
    updated_at: i64,
}

/// Stores `psid` of Page `page_id` if it is new and returns the user as stored.
///
/// A read first: nearly every event comes from a user met before, and a read commits nothing.
pub fn ensure(conn: &mut DbConn, page_id: &str, psid: &str) -> Result<User, StoreError> {
    if let Some(user) = find(conn, page_id, psid)? {
        return Ok(user);
    }
    let now = now_ms();
    let row = NewUser {
        page_id,
        psid,
        thumbups: 0,
        created_at: now,
        updated_at: now,
    };
    let inserted = per_backend!(conn, c => diesel::insert_into(users::table)
        .values(&row)
        .on_conflict_do_nothing()
        .returning(User::as_returning())
        .get_result(c)
        .optional())?;
    match inserted {
        Some(user) => Ok(user),
        // Another worker stored the same new user meanwhile: its row is the one returned.
        None => Ok(users::table
            .find((page_id, psid))
            .select(User::as_select())
            .first(conn)?),
    }
}

/// A new user of Page `page_id` stored with the outcome of their first profile fetch, in one
/// statement: `profile` as fetched at `fetched_at`, or, when the fetch failed, only
/// `fetched_at` (the time to count the profile's age from). If another worker stored the same
/// user meanwhile, its row gets the profile instead, as [`save_profile`] would. Returns the
/// user as stored.
///
/// The pipeline stores its new users in groups ([`NewProfiledUser`]); this is one alone.
pub fn create_with_profile(
    conn: &mut DbConn,
    page_id: &str,
    psid: &str,
    profile: Option<&ProfileUpdate>,
    fetched_at: i64,
) -> Result<User, StoreError> {
    let user = NewProfiledUser {
        page_id: page_id.to_owned(),
        psid: psid.to_owned(),
        profile: profile.cloned(),
        fetched_at,
    };
    NewProfiledUser::apply(conn, std::slice::from_ref(&user))?
        .pop()
        .ok_or_else(|| StoreError::Task(format!("user {psid} was not returned by its insert")))
}

/// One [`NewProfiledUser`] on SQLite (diesel's upsert; Postgres stores a whole group in one
/// statement, [`create_all_postgres`]).
fn create_one(conn: &mut DbConn, new: &NewProfiledUser, now: i64) -> Result<User, StoreError> {
    #[derive(Insertable)]
    #[diesel(table_name = users)]
    struct Row<'a> {
        #[diesel(embed)]
        user: NewUser<'a>,
        #[diesel(embed)]
        profile: ProfileUpdate,
        profile_fetched_at: Option<i64>,
    }

    let row = Row {
        user: NewUser {
            page_id: &new.page_id,
            psid: &new.psid,
            thumbups: 0,
            created_at: now,
            updated_at: now,
        },
        profile: new.profile.clone().unwrap_or_default(),
        profile_fetched_at: Some(new.fetched_at),
    };
    let fetched = users::profile_fetched_at.eq(Some(new.fetched_at));
    let stored = match &new.profile {
        Some(profile) => per_backend!(conn, c => diesel::insert_into(users::table)
            .values(&row)
            .on_conflict((users::page_id, users::psid))
            .do_update()
            .set((profile, fetched, users::updated_at.eq(now)))
            .returning(User::as_returning())
            .get_result(c))?,
        None => per_backend!(conn, c => diesel::insert_into(users::table)
            .values(&row)
            .on_conflict((users::page_id, users::psid))
            .do_update()
            .set(fetched)
            .returning(User::as_returning())
            .get_result(c))?,
    };
    Ok(stored)
}

/// A new user to store with the outcome of their first profile fetch, as
/// [`create_with_profile`] takes it, owned: the pipeline's workers hand their new users to one
/// group commit (see [`crate::store::group_commit`]), so that a burst of new users costs a
/// few commits instead of one each.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProfiledUser {
    /// The Page the user talks to (`""` when the event named none).
    pub page_id: String,
    /// The page-scoped user id.
    pub psid: String,
    /// The fetched profile, or `None` when the fetch failed.
    pub profile: Option<ProfileUpdate>,
    /// When the profile was fetched (or the fetch failed).
    pub fetched_at: i64,
}

impl GroupWork for NewProfiledUser {
    type Output = User;

    fn apply(conn: &mut DbConn, group: &[Self]) -> Result<Vec<User>, StoreError> {
        let now = now_ms();
        if let DbConn::Postgres(pg) = conn {
            return create_all_postgres(pg, group, now);
        }
        group
            .iter()
            .map(|user| create_one(conn, user, now))
            .collect()
    }

    fn one_statement(conn: &DbConn, _group: &[Self]) -> bool {
        matches!(conn, DbConn::Postgres(_))
    }
}

/// Binds the rows of `group` as [`create_all_postgres`]'s ten arrays.
fn bind_new_users<'a>(
    query: super::Prepared<'a>,
    group: &'a [NewProfiledUser],
) -> super::Prepared<'a> {
    use diesel::sql_types::{Array, BigInt, Bool, Double, Nullable, Text};
    let unknown = ProfileUpdate::default();
    let profiles: Vec<&ProfileUpdate> = group
        .iter()
        .map(|u| u.profile.as_ref().unwrap_or(&unknown))
        .collect();
    let text = |field: fn(&ProfileUpdate) -> Option<String>| -> Vec<Option<String>> {
        profiles.iter().map(|p| field(p)).collect()
    };
    query
        .bind::<Array<Text>, _>(group.iter().map(|u| u.psid.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(group.iter().map(|u| u.page_id.as_str()).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(text(|p| p.first_name.clone()))
        .bind::<Array<Nullable<Text>>, _>(text(|p| p.last_name.clone()))
        .bind::<Array<Nullable<Text>>, _>(text(|p| p.profile_pic.clone()))
        .bind::<Array<Nullable<Text>>, _>(text(|p| p.locale.clone()))
        .bind::<Array<Nullable<Double>>, _>(profiles.iter().map(|p| p.timezone).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(text(|p| p.gender.clone()))
        .bind::<Array<BigInt>, _>(group.iter().map(|u| u.fetched_at).collect::<Vec<_>>())
        .bind::<Array<Bool>, _>(
            group
                .iter()
                .map(|u| u.profile.is_some())
                .collect::<Vec<_>>(),
        )
}

/// [`NewProfiledUser`]s stored in one statement on Postgres (prepared: diesel would send its
/// upserts unprepared), as [`create_with_profile`] stores each: the fetched ones with their
/// profile, the others with the time of the failed fetch only (two INSERTs, since a conflict
/// updates different columns). Returns the users as stored, in the order of `group`.
fn create_all_postgres(
    pg: &mut diesel::PgConnection,
    group: &[NewProfiledUser],
    now: i64,
) -> Result<Vec<User>, StoreError> {
    use diesel::sql_types::BigInt;

    use super::Prepared;

    const SQL: &str = "WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], \
         $4::text[], $5::text[], $6::text[], $7::float8[], $8::text[], $9::bigint[], \
         $10::bool[]) AS v(psid, page_id, first_name, last_name, profile_pic, locale, \
         timezone, gender, fetched_at, fetched)), \
         fetched AS (INSERT INTO users (psid, page_id, thumbups, created_at, updated_at, \
         first_name, last_name, profile_pic, locale, timezone, gender, profile_fetched_at) \
         SELECT psid, page_id, 0, $11, $11, first_name, last_name, profile_pic, locale, \
         timezone, gender, fetched_at FROM v WHERE fetched \
         ON CONFLICT (page_id, psid) DO UPDATE SET first_name = excluded.first_name, \
         last_name = excluded.last_name, profile_pic = excluded.profile_pic, \
         locale = excluded.locale, timezone = excluded.timezone, gender = excluded.gender, \
         profile_fetched_at = excluded.profile_fetched_at, updated_at = excluded.updated_at \
         RETURNING *), \
         failed AS (INSERT INTO users (psid, page_id, thumbups, created_at, updated_at, \
         profile_fetched_at) \
         SELECT psid, page_id, 0, $11, $11, fetched_at FROM v WHERE NOT fetched \
         ON CONFLICT (page_id, psid) \
         DO UPDATE SET profile_fetched_at = excluded.profile_fetched_at \
         RETURNING *) \
         SELECT * FROM fetched UNION ALL SELECT * FROM failed";

    if group.is_empty() {
        return Ok(Vec::new());
    }
    let query = bind_new_users(Prepared::new(SQL), group).bind::<BigInt, _>(now);
    let stored: Vec<User> = query.load(pg)?;
    let mut by_key: HashMap<(String, String), User> = stored
        .into_iter()
        .map(|user| ((user.page_id.clone(), user.psid.clone()), user))
        .collect();
    group
        .iter()
        .map(|user| {
            by_key
                .remove(&(user.page_id.clone(), user.psid.clone()))
                .ok_or_else(|| {
                    StoreError::Task(format!("user {} was not returned by its insert", user.psid))
                })
        })
        .collect()
}

/// The stored ones among `keys` (Page id, PSID), by key: one query for a whole claim.
pub fn find_all(
    conn: &mut DbConn,
    keys: &[(&str, &str)],
) -> Result<HashMap<(String, String), User>, StoreError> {
    let mut found = HashMap::with_capacity(keys.len());
    if keys.is_empty() {
        return Ok(found);
    }
    let wanted: HashSet<(&str, &str)> = keys.iter().copied().collect();
    let mut pages: Vec<&str> = keys.iter().map(|(page, _)| *page).collect();
    pages.sort_unstable();
    pages.dedup();
    // Every PSID of the chunk on every Page of the claim (pages are few, and the primary key
    // leads with the Page), then only the pairs asked for. Chunks keep the bind parameters
    // under SQLite's limit.
    for chunk in keys.chunks(5_000) {
        let psids: Vec<&str> = chunk.iter().map(|(_, psid)| *psid).collect();
        let users: Vec<User> = users::table
            .filter(users::page_id.eq_any(&pages))
            .filter(users::psid.eq_any(&psids))
            .select(User::as_select())
            .load(conn)?;
        for user in users {
            if wanted.contains(&(user.page_id.as_str(), user.psid.as_str())) {
                found.insert((user.page_id.clone(), user.psid.clone()), user);
            }
        }
    }
    Ok(found)
}

/// The stored user `psid` of Page `page_id`, if any.
pub fn find(conn: &mut DbConn, page_id: &str, psid: &str) -> Result<Option<User>, StoreError> {
    Ok(users::table
        .find((page_id, psid))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Stores a fetched profile and the time of the fetch; returns the user as now stored.
pub fn save_profile(
    conn: &mut DbConn,
    page_id: &str,
    psid: &str,
    profile: &ProfileUpdate,
    fetched_at: i64,
) -> Result<Option<User>, StoreError> {
    Ok(
        per_backend!(conn, c => diesel::update(users::table.find((page_id, psid)))
        .set((
            profile,
            users::profile_fetched_at.eq(Some(fetched_at)),
            users::updated_at.eq(now_ms()),
        ))
        .returning(User::as_returning())
        .get_result(c)
        .optional())?,
    )
}

/// Records that a fetch was tried (and failed), so it is not retried on every message;
/// returns the user as now stored.
pub fn touch_profile_fetch(
    conn: &mut DbConn,
    page_id: &str,
    psid: &str,
    at: i64,
) -> Result<Option<User>, StoreError> {
    Ok(
        per_backend!(conn, c => diesel::update(users::table.find((page_id, psid)))
        .set(users::profile_fetched_at.eq(Some(at)))
        .returning(User::as_returning())
        .get_result(c)
        .optional())?,
    )
}

/// Records the locale the user picked; a later profile fetch does not overwrite it.
pub fn choose_locale(
    conn: &mut DbConn,
    page_id: &str,
    psid: &str,
    locale: &str,
) -> Result<(), StoreError> {
    diesel::update(users::table.find((page_id, psid)))
        .set((
            users::chosen_locale.eq(Some(locale)),
            users::updated_at.eq(now_ms()),
        ))
        .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::group_commit::GroupWork;

    fn profile(first_name: &str) -> ProfileUpdate {
        ProfileUpdate {
            first_name: Some(first_name.into()),
            locale: Some("zh_TW".into()),
            ..ProfileUpdate::default()
        }
    }

    #[test]
    fn new_users_of_several_workers_are_stored_in_one_go_each_as_alone() {
        // Postgres (one statement) when PAGEBOT_TEST_DATABASE_URL is set, else SQLite.
        let database = crate::testing::TestDatabase::from_env();
        let store = Store::connect(database.url(), 2).unwrap();
        let mut conn = store.get().unwrap();
        create_with_profile(&mut conn, "p2", "u_known", None, 1).unwrap();
        choose_locale(&mut conn, "p2", "u_known", "fr").unwrap();
        // The same PSID on another Page is another user, whom the group does not touch.
        let other = create_with_profile(&mut conn, "p1", "u_known", None, 2).unwrap();
        let new =
            |page: &str, psid: &str, profile: Option<ProfileUpdate>, fetched_at| NewProfiledUser {
                page_id: page.into(),
                psid: psid.into(),
                profile,
                fetched_at,
            };
        let group = [
            new("p2", "u_cy", Some(profile("Cy")), 20),
            new("p2", "u_dee", None, 21),
            new("p2", "u_known", Some(profile("Kim")), 22),
            new("p2", "u_eve", Some(ProfileUpdate::default()), 23),
            // Cy again, on a third Page: a user of their own, in the same statement.
            new("p3", "u_cy", Some(profile("Cyrus")), 24),
        ];
        let stored = NewProfiledUser::apply(&mut conn, &group).unwrap();

        // One user per item, in the group's order, each as create_with_profile stores it.
        let keys: Vec<(&str, &str)> = stored
            .iter()
            .map(|u| (u.page_id.as_str(), u.psid.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("p2", "u_cy"),
                ("p2", "u_dee"),
                ("p2", "u_known"),
                ("p2", "u_eve"),
                ("p3", "u_cy")
            ]
        );
        for user in &stored {
            assert_eq!(
                find(&mut conn, &user.page_id, &user.psid).unwrap().as_ref(),
                Some(user)
            );
        }
        let [cy, dee, known, eve, cyrus] = &stored[..] else {
            panic!("five users");
        };
        assert_eq!(
            (
                cy.first_name.as_deref(),
                cy.locale.as_deref(),
                cy.profile_fetched_at
            ),
            (Some("Cy"), Some("zh_TW"), Some(20))
        );
        assert_eq!(cy.thumbups, 0);
        assert_eq!(
            (cyrus.first_name.as_deref(), cyrus.profile_fetched_at),
            (Some("Cyrus"), Some(24))
        );
        // A failed fetch: only the time to count from, nothing made up.
        assert_eq!(
            (dee.first_name.as_deref(), dee.profile_fetched_at),
            (None, Some(21))
        );
        // Stored meanwhile: keeps its choice, gets the profile.
        assert_eq!(known.first_name.as_deref(), Some("Kim"));
        assert_eq!(known.chosen_locale.as_deref(), Some("fr"));
        // A fetched profile with nothing in it is still a fetched one.
        assert_eq!(
            (eve.first_name.as_deref(), eve.profile_fetched_at),
            (None, Some(23))
        );
        // The namesake on p1 is as it was.
        assert_eq!(find(&mut conn, "p1", "u_known").unwrap(), Some(other));
        assert!(NewProfiledUser::apply(&mut conn, &[]).unwrap().is_empty());
    }

    #[test]
    fn a_new_user_is_stored_with_the_outcome_of_their_first_fetch() {
        // Postgres when PAGEBOT_TEST_DATABASE_URL is set, else SQLite.
        let database = crate::testing::TestDatabase::from_env();
        let store = Store::connect(database.url(), 2).unwrap();
        let mut conn = store.get().unwrap();

        let ann = create_with_profile(&mut conn, "p1", "u_ann", Some(&profile("Ann")), 7).unwrap();
        assert_eq!(ann.first_name.as_deref(), Some("Ann"));
        assert_eq!(ann.locale.as_deref(), Some("zh_TW"));
        assert_eq!(
            (ann.page_id.as_str(), ann.profile_fetched_at, ann.thumbups),
            ("p1", Some(7), 0)
        );
        assert_eq!(find(&mut conn, "p1", "u_ann").unwrap(), Some(ann.clone()));
        assert_eq!(find(&mut conn, "p2", "u_ann").unwrap(), None);

        // A failed fetch stores the user with the time to count from, and nothing made up.
        let bob = create_with_profile(&mut conn, "", "u_bob", None, 3).unwrap();
        assert!(bob.first_name.is_none() && bob.locale.is_none());
        assert_eq!(
            (bob.page_id.as_str(), bob.profile_fetched_at),
            ("", Some(3))
        );

        // Stored meanwhile by another worker: the row keeps what it had and gets the profile.
        choose_locale(&mut conn, "p1", "u_ann", "fr").unwrap();
        let again =
            create_with_profile(&mut conn, "p1", "u_ann", Some(&profile("Anne")), 9).unwrap();
        assert_eq!(again.first_name.as_deref(), Some("Anne"));
        assert_eq!(again.chosen_locale.as_deref(), Some("fr"));
        assert_eq!(again.created_at, ann.created_at);
        assert_eq!(again.profile_fetched_at, Some(9));
        let failed_again = create_with_profile(&mut conn, "p1", "u_ann", None, 11).unwrap();
        assert_eq!(failed_again.first_name.as_deref(), Some("Anne"));
        assert_eq!(failed_again.profile_fetched_at, Some(11));

        // The same PSID on another Page: a new user, who has none of that.
        let namesake =
            create_with_profile(&mut conn, "p2", "u_ann", Some(&profile("Nan")), 12).unwrap();
        assert_eq!(
            (
                namesake.first_name.as_deref(),
                namesake.chosen_locale.as_deref()
            ),
            (Some("Nan"), None)
        );
        assert_eq!(
            find(&mut conn, "p1", "u_ann")
                .unwrap()
                .unwrap()
                .first_name
                .as_deref(),
            Some("Anne")
        );

        let found = find_all(
            &mut conn,
            &[
                ("p1", "u_ann"),
                ("", "u_bob"),
                ("p1", "u_bob"),
                ("p3", "u_nobody"),
            ],
        )
        .unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[&("".to_owned(), "u_bob".to_owned())], bob);
        assert_eq!(
            found[&("p1".to_owned(), "u_ann".to_owned())]
                .first_name
                .as_deref(),
            Some("Anne")
        );
        assert!(find_all(&mut conn, &[]).unwrap().is_empty());
    }

    #[test]
    fn a_profile_and_a_locale_change_the_user_of_their_page_only() {
        let database = crate::testing::TestDatabase::from_env();
        let store = Store::connect(database.url(), 2).unwrap();
        let mut conn = store.get().unwrap();
        ensure(&mut conn, "p1", "u_same").unwrap();
        ensure(&mut conn, "p2", "u_same").unwrap();

        choose_locale(&mut conn, "p2", "u_same", "fr").unwrap();
        let saved = save_profile(&mut conn, "p1", "u_same", &profile("One"), 5).unwrap();
        let touched = touch_profile_fetch(&mut conn, "p2", "u_same", 6).unwrap();

        let one = find(&mut conn, "p1", "u_same").unwrap().unwrap();
        let two = find(&mut conn, "p2", "u_same").unwrap().unwrap();
        assert_eq!(saved.as_ref(), Some(&one));
        assert_eq!(touched.as_ref(), Some(&two));
        assert_eq!(
            (one.first_name.as_deref(), one.chosen_locale.as_deref()),
            (Some("One"), None)
        );
        assert_eq!(one.profile_fetched_at, Some(5));
        assert_eq!(
            (two.first_name.as_deref(), two.chosen_locale.as_deref()),
            (None, Some("fr"))
        );
        assert_eq!(two.profile_fetched_at, Some(6));
        // No user on a third Page came of it.
        assert_eq!(
            save_profile(&mut conn, "p3", "u_same", &profile("Three"), 7).unwrap(),
            None
        );
        assert_eq!(find(&mut conn, "p3", "u_same").unwrap(), None);
    }
}
