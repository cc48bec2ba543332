//! The core schema: configuration tables, usage and logs, and persisted actor state.

use sea_orm_migration::prelude::*;

use crate::{MODEL_LEN, NAME_LEN, PROVIDER_LEN, key, key_null, txt, txt_null};
use sea_orm_migration::schema::{big_integer, big_integer_null, big_pk_auto, boolean, double, integer, integer_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Providers {
    Table,
    Id,
    Dialect,
    BaseUrl,
    Auth,
    Models,
    Strategy,
    Source,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    Provider,
    Name,
    Secret,
    BaseUrl,
    Priority,
    Weight,
    Enabled,
    MaxConcurrent,
    Source,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Name,
    Digest,
    Prefix,
    Models,
    Enabled,
    Source,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Combos {
    Table,
    Id,
    Name,
    Strategy,
    Enabled,
    Source,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ComboTargets {
    Table,
    Id,
    ComboId,
    Position,
    Model,
    Weight,
}

#[derive(DeriveIden)]
enum ModelAliases {
    Table,
    Alias,
    Target,
    Source,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Usage {
    Table,
    Id,
    Ts,
    RequestId,
    KeyName,
    ClientDialect,
    Provider,
    Account,
    Model,
    Status,
    Error,
    InputTokens,
    OutputTokens,
    CacheReadTokens,
    CacheWriteTokens,
    ReasoningTokens,
    TotalTokens,
    Cost,
    LatencyMs,
    TtfbMs,
    Streamed,
    Attempts,
}

#[derive(DeriveIden)]
enum RequestLogs {
    Table,
    Id,
    Ts,
    RequestId,
    Method,
    Path,
    Status,
    KeyName,
    Model,
    Detail,
}

#[derive(DeriveIden)]
enum AccountState {
    Table,
    AccountId,
    CooldownUntil,
    BackoffLevel,
    Reason,
    LastUsedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ModelLockouts {
    Table,
    AccountId,
    Model,
    Until,
    Reason,
}

#[derive(DeriveIden)]
enum BreakerState {
    Table,
    Provider,
    State,
    Failures,
    OpenUntil,
    Trips,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum QuotaWindows {
    Table,
    Subject,
    Window,
    WindowStart,
    UsedTokens,
    UsedCost,
    UpdatedAt,
}

fn key_pk<T: IntoIden>(m: &SchemaManager, col: T, len: u32) -> ColumnDef {
    key(m, col, len).primary_key().take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Providers::Table)
                .col(key_pk(m, Providers::Id, PROVIDER_LEN))
                .col(txt(m, Providers::Dialect))
                .col(txt(m, Providers::BaseUrl))
                .col(txt(m, Providers::Auth))
                .col(txt(m, Providers::Models))
                .col(txt_null(m, Providers::Strategy))
                .col(txt(m, Providers::Source))
                .col(big_integer(Providers::CreatedAt))
                .col(big_integer(Providers::UpdatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Accounts::Table)
                .col(big_pk_auto(Accounts::Id))
                .col(key(m, Accounts::Provider, PROVIDER_LEN))
                .col(key(m, Accounts::Name, NAME_LEN))
                .col(txt_null(m, Accounts::Secret))
                .col(txt_null(m, Accounts::BaseUrl))
                .col(integer(Accounts::Priority))
                .col(integer(Accounts::Weight))
                .col(boolean(Accounts::Enabled))
                .col(integer_null(Accounts::MaxConcurrent))
                .col(txt(m, Accounts::Source))
                .col(big_integer(Accounts::CreatedAt))
                .col(big_integer(Accounts::UpdatedAt))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_accounts_provider_name")
                .table(Accounts::Table)
                .col(Accounts::Provider)
                .col(Accounts::Name)
                .unique()
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(big_pk_auto(ApiKeys::Id))
                .col(key(m, ApiKeys::Name, NAME_LEN).unique_key().take())
                .col(key(m, ApiKeys::Digest, NAME_LEN).unique_key().take())
                .col(txt(m, ApiKeys::Prefix))
                .col(txt(m, ApiKeys::Models))
                .col(boolean(ApiKeys::Enabled))
                .col(txt(m, ApiKeys::Source))
                .col(big_integer(ApiKeys::CreatedAt))
                .col(big_integer_null(ApiKeys::RevokedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Combos::Table)
                .col(big_pk_auto(Combos::Id))
                .col(key(m, Combos::Name, NAME_LEN).unique_key().take())
                .col(txt(m, Combos::Strategy))
                .col(boolean(Combos::Enabled))
                .col(txt(m, Combos::Source))
                .col(big_integer(Combos::CreatedAt))
                .col(big_integer(Combos::UpdatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ComboTargets::Table)
                .col(big_pk_auto(ComboTargets::Id))
                .col(big_integer(ComboTargets::ComboId))
                .col(integer(ComboTargets::Position))
                .col(txt(m, ComboTargets::Model))
                .col(integer(ComboTargets::Weight))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_combo_targets_combo")
                        .from(ComboTargets::Table, ComboTargets::ComboId)
                        .to(Combos::Table, Combos::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_combo_targets_combo")
                .table(ComboTargets::Table)
                .col(ComboTargets::ComboId)
                .col(ComboTargets::Position)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ModelAliases::Table)
                .col(key_pk(m, ModelAliases::Alias, MODEL_LEN))
                .col(txt(m, ModelAliases::Target))
                .col(txt(m, ModelAliases::Source))
                .col(big_integer(ModelAliases::CreatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Settings::Table)
                .col(key_pk(m, Settings::Key, 512))
                .col(txt(m, Settings::Value))
                .col(big_integer(Settings::UpdatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Usage::Table)
                .col(big_pk_auto(Usage::Id))
                .col(big_integer(Usage::Ts))
                .col(key(m, Usage::RequestId, NAME_LEN))
                .col(key_null(m, Usage::KeyName, NAME_LEN))
                .col(txt(m, Usage::ClientDialect))
                .col(key_null(m, Usage::Provider, PROVIDER_LEN))
                .col(txt_null(m, Usage::Account))
                .col(key(m, Usage::Model, MODEL_LEN))
                .col(integer(Usage::Status))
                .col(txt_null(m, Usage::Error))
                .col(big_integer(Usage::InputTokens))
                .col(big_integer(Usage::OutputTokens))
                .col(big_integer(Usage::CacheReadTokens))
                .col(big_integer(Usage::CacheWriteTokens))
                .col(big_integer(Usage::ReasoningTokens))
                .col(big_integer(Usage::TotalTokens))
                .col(double(Usage::Cost))
                .col(big_integer(Usage::LatencyMs))
                .col(big_integer_null(Usage::TtfbMs))
                .col(boolean(Usage::Streamed))
                .col(integer(Usage::Attempts))
                .take(),
        )
        .await?;
        m.create_index(Index::create().name("ix_usage_ts").table(Usage::Table).col(Usage::Ts).take()).await?;

        m.create_table(
            Table::create()
                .table(RequestLogs::Table)
                .col(big_pk_auto(RequestLogs::Id))
                .col(big_integer(RequestLogs::Ts))
                .col(key(m, RequestLogs::RequestId, NAME_LEN))
                .col(txt(m, RequestLogs::Method))
                .col(txt(m, RequestLogs::Path))
                .col(integer(RequestLogs::Status))
                .col(txt_null(m, RequestLogs::KeyName))
                .col(txt(m, RequestLogs::Model))
                .col(txt(m, RequestLogs::Detail))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_request_logs_ts").table(RequestLogs::Table).col(RequestLogs::Ts).take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AccountState::Table)
                .col(big_integer(AccountState::AccountId).primary_key().take())
                .col(big_integer(AccountState::CooldownUntil))
                .col(integer(AccountState::BackoffLevel))
                .col(txt_null(m, AccountState::Reason))
                .col(big_integer(AccountState::LastUsedAt))
                .col(big_integer(AccountState::UpdatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ModelLockouts::Table)
                .col(big_integer(ModelLockouts::AccountId))
                .col(key(m, ModelLockouts::Model, MODEL_LEN))
                .col(big_integer(ModelLockouts::Until))
                .col(txt_null(m, ModelLockouts::Reason))
                .primary_key(Index::create().col(ModelLockouts::AccountId).col(ModelLockouts::Model))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(BreakerState::Table)
                .col(key_pk(m, BreakerState::Provider, PROVIDER_LEN))
                .col(txt(m, BreakerState::State))
                .col(integer(BreakerState::Failures))
                .col(big_integer(BreakerState::OpenUntil))
                .col(integer(BreakerState::Trips))
                .col(big_integer(BreakerState::UpdatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(QuotaWindows::Table)
                .col(key(m, QuotaWindows::Subject, NAME_LEN))
                .col(key(m, QuotaWindows::Window, NAME_LEN))
                .col(big_integer(QuotaWindows::WindowStart))
                .col(big_integer(QuotaWindows::UsedTokens))
                .col(double(QuotaWindows::UsedCost))
                .col(big_integer(QuotaWindows::UpdatedAt))
                .primary_key(Index::create().col(QuotaWindows::Subject).col(QuotaWindows::Window))
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, so foreign keys never block a drop.
        m.drop_table(Table::drop().table(QuotaWindows::Table).take()).await?;
        m.drop_table(Table::drop().table(BreakerState::Table).take()).await?;
        m.drop_table(Table::drop().table(ModelLockouts::Table).take()).await?;
        m.drop_table(Table::drop().table(AccountState::Table).take()).await?;
        m.drop_table(Table::drop().table(RequestLogs::Table).take()).await?;
        m.drop_table(Table::drop().table(Usage::Table).take()).await?;
        m.drop_table(Table::drop().table(Settings::Table).take()).await?;
        m.drop_table(Table::drop().table(ModelAliases::Table).take()).await?;
        m.drop_table(Table::drop().table(ComboTargets::Table).take()).await?;
        m.drop_table(Table::drop().table(Combos::Table).take()).await?;
        m.drop_table(Table::drop().table(ApiKeys::Table).take()).await?;
        m.drop_table(Table::drop().table(Accounts::Table).take()).await?;
        m.drop_table(Table::drop().table(Providers::Table).take()).await?;
        Ok(())
    }
}
