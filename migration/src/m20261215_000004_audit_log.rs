//! The audit log of the admin API: one row per change (who, what, when, before and after, with
//! secrets left out), read newest first by id.

use sea_orm_migration::prelude::*;

use crate::{txt, txt_null};
use sea_orm_migration::schema::{big_integer, big_pk_auto};

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
                .col(txt(m, AuditLog::Actor))
                .col(txt_null(m, AuditLog::Ip))
                .col(txt(m, AuditLog::Resource))
                .col(txt(m, AuditLog::ResourceId))
                .col(txt(m, AuditLog::Action))
                .col(txt_null(m, AuditLog::Before))
                .col(txt_null(m, AuditLog::After))
                .take(),
        )
        .await?;
        m.create_index(Index::create().name("ix_audit_log_ts").table(AuditLog::Table).col(AuditLog::Ts).take()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditLog::Table).take()).await
    }
}
