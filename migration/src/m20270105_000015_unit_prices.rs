//! Prices per unit for the surfaces not billed by the token (image edits per image, audio
//! transcription per second, speech per character), and the units each usage row measured.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pricing {
    Table,
    PerImage,
    PerSecond,
    PerCharacter,
}

#[derive(DeriveIden)]
enum Usage {
    Table,
    Units,
    Unit,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [Pricing::PerImage, Pricing::PerSecond, Pricing::PerCharacter] {
            m.alter_table(Table::alter().table(Pricing::Table).add_column(ColumnDef::new(col).double().null()).take())
                .await?;
        }
        m.alter_table(
            Table::alter().table(Usage::Table).add_column(ColumnDef::new(Usage::Units).double().null()).take(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Usage::Table).add_column(ColumnDef::new(Usage::Unit).string_len(16).null()).take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [Usage::Unit, Usage::Units] {
            m.alter_table(Table::alter().table(Usage::Table).drop_column(col).take()).await?;
        }
        for col in [Pricing::PerCharacter, Pricing::PerSecond, Pricing::PerImage] {
            m.alter_table(Table::alter().table(Pricing::Table).drop_column(col).take()).await?;
        }
        Ok(())
    }
}
