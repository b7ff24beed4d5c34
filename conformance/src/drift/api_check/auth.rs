//! Keys: the `Token` scheme, 401 for a missing or unknown key, DRF's `detail` body.

use super::{checks, detail_string, status, Check, Ctx, Source, Verdict};
use crate::drift::rest::{Auth, Opts};

pub(super) fn checks() -> Vec<Check> {
    checks![
        auth_missing_key_is_401, false, Source::Documented("DOC-codes; WPF reads `detail`"),
            "no Authorization header: 401 with a `detail` string";
        auth_unknown_token_is_401, false, Source::Documented("DOC-codes"),
            "an unknown token: 401 with a `detail` string";
        auth_bearer_scheme_is_401, false, Source::Guess("only the `Token` scheme is accepted"),
            "the right key under the `Bearer` scheme: 401";
        auth_missing_key_wording, false, Source::Guess("DRF's default wording"),
            "no key: detail is \"Authentication credentials were not provided.\"";
        auth_unknown_token_wording, false, Source::Guess("DRF's default wording"),
            "unknown token: detail is \"Invalid token.\"";
    ]
}

fn with(auth: Auth) -> Opts {
    Opts {
        auth,
        ..Opts::default()
    }
}

async fn get_users(cx: &Ctx, auth: Auth) -> Result<crate::drift::rest::Answer, super::Miss> {
    Ok(cx
        .rest()
        .send(reqwest::Method::GET, "/users/", None, &with(auth))
        .await?)
}

async fn auth_missing_key_is_401(cx: Ctx) -> Verdict {
    let a = get_users(&cx, Auth::None).await?;
    status(&a, 401)?;
    detail_string(&a)
}

async fn auth_unknown_token_is_401(cx: Ctx) -> Verdict {
    let a = get_users(&cx, Auth::Raw(format!("Token {}", cx.id("not-a-key")))).await?;
    status(&a, 401)?;
    detail_string(&a)
}

async fn auth_bearer_scheme_is_401(cx: Ctx) -> Verdict {
    let a = get_users(&cx, Auth::Scheme("Bearer")).await?;
    status(&a, 401)
}

async fn auth_missing_key_wording(cx: Ctx) -> Verdict {
    let a = get_users(&cx, Auth::None).await?;
    super::field_eq(
        &a.what,
        &a.body,
        "detail",
        &"Authentication credentials were not provided.".into(),
    )
}

async fn auth_unknown_token_wording(cx: Ctx) -> Verdict {
    let a = get_users(&cx, Auth::Raw(format!("Token {}", cx.id("not-a-key")))).await?;
    super::field_eq(&a.what, &a.body, "detail", &"Invalid token.".into())
}
