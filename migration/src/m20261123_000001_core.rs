//! The core schema: configuration tables, usage and logs, and persisted actor state.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, boolean, double, integer, integer_null, text, text_null,
};

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

fn text_pk<T: IntoIden>(col: T) -> ColumnDef {
    text(col).primary_key().take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Providers::Table)
                .col(text_pk(Providers::Id))
                .col(text(Providers::Dialect))
                .col(text(Providers::BaseUrl))
                .col(text(Providers::Auth))
                .col(text(Providers::Models))
                .col(text_null(Providers::Strategy))
                .col(text(Providers::Source))
                .col(big_integer(Providers::CreatedAt))
                .col(big_integer(Providers::UpdatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Accounts::Table)
                .col(big_pk_auto(Accounts::Id))
                .col(text(Accounts::Provider))
                .col(text(Accounts::Name))
                .col(text_null(Accounts::Secret))
                .col(text_null(Accounts::BaseUrl))
                .col(integer(Accounts::Priority))
                .col(integer(Accounts::Weight))
                .col(boolean(Accounts::Enabled))
                .col(integer_null(Accounts::MaxConcurrent))
                .col(text(Accounts::Source))
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
                .col(text(ApiKeys::Name).unique_key().take())
                .col(text(ApiKeys::Digest).unique_key().take())
                .col(text(ApiKeys::Prefix))
                .col(text(ApiKeys::Models))
                .col(boolean(ApiKeys::Enabled))
                .col(text(ApiKeys::Source))
                .col(big_integer(ApiKeys::CreatedAt))
                .col(big_integer_null(ApiKeys::RevokedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Combos::Table)
                .col(big_pk_auto(Combos::Id))
                .col(text(Combos::Name).unique_key().take())
                .col(text(Combos::Strategy))
                .col(boolean(Combos::Enabled))
                .col(text(Combos::Source))
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
                .col(text(ComboTargets::Model))
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
                .col(text_pk(ModelAliases::Alias))
                .col(text(ModelAliases::Target))
                .col(text(ModelAliases::Source))
                .col(big_integer(ModelAliases::CreatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Settings::Table)
                .col(text_pk(Settings::Key))
                .col(text(Settings::Value))
                .col(big_integer(Settings::UpdatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Usage::Table)
                .col(big_pk_auto(Usage::Id))
                .col(big_integer(Usage::Ts))
                .col(text(Usage::RequestId))
                .col(text_null(Usage::KeyName))
                .col(text(Usage::ClientDialect))
                .col(text_null(Usage::Provider))
                .col(text_null(Usage::Account))
                .col(text(Usage::Model))
                .col(integer(Usage::Status))
                .col(text_null(Usage::Error))
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
                .col(text(RequestLogs::RequestId))
                .col(text(RequestLogs::Method))
                .col(text(RequestLogs::Path))
                .col(integer(RequestLogs::Status))
                .col(text_null(RequestLogs::KeyName))
                .col(text(RequestLogs::Model))
                .col(text(RequestLogs::Detail))
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
                .col(text_null(AccountState::Reason))
                .col(big_integer(AccountState::LastUsedAt))
                .col(big_integer(AccountState::UpdatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ModelLockouts::Table)
                .col(big_integer(ModelLockouts::AccountId))
                .col(text(ModelLockouts::Model))
                .col(big_integer(ModelLockouts::Until))
                .col(text_null(ModelLockouts::Reason))
                .primary_key(Index::create().col(ModelLockouts::AccountId).col(ModelLockouts::Model))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(BreakerState::Table)
                .col(text_pk(BreakerState::Provider))
                .col(text(BreakerState::State))
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
                .col(text(QuotaWindows::Subject))
                .col(text(QuotaWindows::Window))
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
