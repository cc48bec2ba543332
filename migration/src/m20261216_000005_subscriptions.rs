//! Subscription accounts: the OAuth session of each signed-in account (tokens sealed, status,
//! endpoint overrides, the digest of its config seed), and the fields the quota tracker keeps per
//! window (used share, reset time, status, length) on the until-now unused `quota_windows`.

use sea_orm_migration::prelude::*;

use crate::{txt, txt_null};
use sea_orm_migration::schema::{big_integer, big_integer_null, double_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OauthSessions {
    Table,
    AccountId,
    Provider,
    Secret,
    ExpiresAt,
    Generation,
    Status,
    Reason,
    SeedDigest,
    Endpoints,
    RefreshedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum QuotaWindows {
    Table,
    UsedFraction,
    ResetsAt,
    Status,
    WindowSecs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(OauthSessions::Table)
                .col(big_integer(OauthSessions::AccountId).primary_key().take())
                .col(txt(m, OauthSessions::Provider))
                .col(txt(m, OauthSessions::Secret))
                .col(big_integer_null(OauthSessions::ExpiresAt))
                .col(big_integer(OauthSessions::Generation))
                .col(txt(m, OauthSessions::Status))
                .col(txt_null(m, OauthSessions::Reason))
                .col(txt_null(m, OauthSessions::SeedDigest))
                .col(txt(m, OauthSessions::Endpoints))
                .col(big_integer_null(OauthSessions::RefreshedAt))
                .col(big_integer(OauthSessions::CreatedAt))
                .col(big_integer(OauthSessions::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_oauth_sessions_account")
                        .from(OauthSessions::Table, OauthSessions::AccountId)
                        .to(Accounts::Table, Accounts::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        // SQLite alters one column per statement.
        for col in [
            double_null(QuotaWindows::UsedFraction),
            big_integer_null(QuotaWindows::ResetsAt),
            txt_null(m, QuotaWindows::Status),
            big_integer_null(QuotaWindows::WindowSecs),
        ] {
            let mut col = col;
            m.alter_table(Table::alter().table(QuotaWindows::Table).add_column(&mut col).take()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [QuotaWindows::WindowSecs, QuotaWindows::Status, QuotaWindows::ResetsAt, QuotaWindows::UsedFraction]
        {
            m.alter_table(Table::alter().table(QuotaWindows::Table).drop_column(col).take()).await?;
        }
        m.drop_table(Table::drop().table(OauthSessions::Table).take()).await
    }
}
