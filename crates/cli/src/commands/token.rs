//! `token create | revoke | list`: API tokens. The secret is printed once, at creation; the
//! store keeps only its hash (`coursetasks_server::tokens`).

use anyhow::Result;
use coursetasks_server::tokens::mint;
use coursetasks_store::{Role, StoreError, TokenRecord};
use serde_json::json;

use crate::cli::{
    RoleArg, TokenArgs, TokenCommand, TokenCreateArgs, TokenListArgs, TokenRevokeArgs,
};
use crate::commands::tasks::open_store;
use crate::{Failure, print_json};

pub async fn run(args: TokenArgs) -> Result<()> {
    match args.command {
        TokenCommand::Create(args) => create(args).await,
        TokenCommand::Revoke(args) => revoke(args).await,
        TokenCommand::List(args) => list(args).await,
    }
}

fn role(arg: RoleArg) -> Role {
    match arg {
        RoleArg::Admin => Role::Admin,
        RoleArg::Instructor => Role::Instructor,
        RoleArg::Staff => Role::Staff,
    }
}

/// A token as printed: everything but the hash.
fn token_json(token: &TokenRecord) -> serde_json::Value {
    json!({
        "id": token.id,
        "user": token.user,
        "role": token.role,
        "course_key": token.course_key,
        "created_at": token.created_at,
        "revoked_at": token.revoked_at,
    })
}

async fn create(args: TokenCreateArgs) -> Result<()> {
    if args.user.trim().is_empty() {
        return Err(Failure::usage("--user must not be empty").into());
    }
    let store = open_store(&args.db.db).await?;
    if let Some(course) = &args.course
        && store.get_course(course).await?.is_none()
    {
        // A typo would make a token that sees nothing at all.
        return Err(Failure::not_found(format!("no course {course} in this database")).into());
    }
    let (token, secret) = mint(
        &store,
        args.user.trim(),
        role(args.role),
        args.course.as_deref(),
    )
    .await?;
    if args.json.json {
        let mut value = token_json(&token);
        value["token"] = secret.into();
        return print_json(&value);
    }
    outln!(
        "token {} for {} ({}, {})",
        token.id,
        token.user,
        token.role,
        token
            .course_key
            .as_deref()
            .map_or("every course".to_owned(), |c| format!("course {c}"))
    )?;
    outln!("{secret}")?;
    eprintln!("this secret is shown once; send it as `Authorization: Bearer <secret>`");
    Ok(())
}

async fn revoke(args: TokenRevokeArgs) -> Result<()> {
    let store = open_store(&args.db.db).await?;
    let token = match store.revoke_token(args.id).await {
        Ok(token) => token,
        Err(StoreError::NotFound { .. }) => {
            return Err(
                Failure::not_found(format!("no token {} in this database", args.id)).into(),
            );
        }
        Err(e) => return Err(e.into()),
    };
    if args.json.json {
        return print_json(&token_json(&token));
    }
    outln!("token {} ({}) revoked", token.id, token.user)?;
    Ok(())
}

async fn list(args: TokenListArgs) -> Result<()> {
    let store = open_store(&args.db.db).await?;
    let tokens = store.list_tokens().await?;
    if args.json.json {
        return print_json(&tokens.iter().map(token_json).collect::<Vec<_>>());
    }
    if tokens.is_empty() {
        outln!("no tokens; make one with `coursetasks token create --user NAME --role ROLE`")?;
        return Ok(());
    }
    outln!(
        "{:>5}  {:<20} {:<10} {:<36} {:<20} state",
        "id",
        "user",
        "role",
        "course",
        "created"
    )?;
    for t in &tokens {
        outln!(
            "{:>5}  {:<20} {:<10} {:<36} {:<20} {}",
            t.id,
            t.user,
            t.role.as_str(),
            t.course_key.as_deref().unwrap_or("(every course)"),
            t.created_at.format("%Y-%m-%d %H:%M:%S"),
            t.revoked_at.map_or("active".to_owned(), |at| format!(
                "revoked {}",
                at.format("%Y-%m-%d %H:%M:%S")
            ))
        )?;
    }
    Ok(())
}
