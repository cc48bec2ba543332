//! The audit log of the admin API: one row per change (who, what, when, before and after, with
//! secrets left out), read newest first by id.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_pk_auto, text, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    Ts,
    Actor,
    Ip,
    Resource,
    ResourceId,
    Action,
    Before,
    After,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(big_pk_auto(AuditLog::Id))
                .col(big_integer(AuditLog::Ts))
                .col(text(AuditLog::Actor))
                .col(text_null(AuditLog::Ip))
                .col(text(AuditLog::Resource))
                .col(text(AuditLog::ResourceId))
                .col(text(AuditLog::Action))
                .col(text_null(AuditLog::Before))
                .col(text_null(AuditLog::After))
                .take(),
        )
        .await?;
        m.create_index(Index::create().name("ix_audit_log_ts").table(AuditLog::Table).col(AuditLog::Ts).take()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditLog::Table).take()).await
    }
}
