//! `dashboard_users`: the people who sign in to the dashboard, each with a role. The bootstrap
//! admin is not a row: its password hash stays in `settings`.

use sea_orm::entity::prelude::*;

/// One dashboard user.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "dashboard_users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Sign-in name (unique; letters, digits, `.`, `_`, `-`).
    #[sea_orm(unique)]
    pub name: String,
    /// `admin` or `viewer`.
    pub role: String,
    /// Argon2id hash (PHC string) of the password.
    pub password_hash: String,
    /// When the user was made, ms since the epoch.
    pub created_at: i64,
    /// When the role or password last changed, ms since the epoch.
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
