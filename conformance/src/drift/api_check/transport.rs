//! Transport: trailing slashes, the `Accept` dialect header, methods, unknown routes and ids,
//! malformed bodies, the JSON content type.

use super::{checks, detail_string, ok_2xx, status, Check, Ctx, Miss, Source, Verdict};
use crate::drift::rest::Opts;

pub(super) fn checks() -> Vec<Check> {
    checks![
        transport_json_content_type, false, Source::Documented("usercom-api.md §1.3: responses are JSON"),
            "answers carry Content-Type: application/json";
        transport_accept_without_space, false, Source::Documented("RS-src sends `*/*;version=2`"),
            "Accept `*/*;version=2` (no space) is served";
        transport_missing_trailing_slash_is_404, false, Source::Guess("no redirect for a missing slash (the real API may 301)"),
            "GET /users (no trailing slash): 404, not a redirect";
        transport_unknown_route_is_404, false, Source::Guess("DRF-style 404 for an unknown route"),
            "an unknown resource path: 404";
        transport_wrong_method_is_405, false, Source::Guess("DRF's 405 for a method a route lacks"),
            "PUT /users/search/: 405";
        transport_unknown_user_id_is_404, false, Source::Documented("DOC-codes: 404 = resource does not exist"),
            "GET /users/{unknown id}/: 404";
        transport_not_found_has_detail, false, Source::Guess("DRF's {\"detail\": ...} on 404"),
            "a 404 body is {\"detail\": string}";
        transport_unknown_custom_id_is_404, false, Source::Documented("RS-src, DOTNET: users-by-id 404"),
            "GET /users-by-id/{unknown}/: 404";
        transport_unknown_company_custom_id_is_404, false, Source::Documented("RS-src, DOTNET: companies-by-id 404"),
            "GET /companies-by-id/{unknown}/: 404";
        transport_events_of_unknown_custom_id_is_404, false, Source::Documented("PY: users-by-id/<id>/events/ is 404 for a missing user"),
            "GET /users-by-id/{unknown}/events/: 404";
        transport_malformed_json_is_400, true, Source::Guess("DRF's 400 for a body that is not JSON"),
            "POST /users/ with a body that is not JSON: 400 with detail";
    ]
}

async fn transport_json_content_type(cx: Ctx) -> Verdict {
    let a = cx.rest().get("/users/").await?;
    ok_2xx(&a)?;
    match a.header("content-type") {
        Some(ct) if ct.to_ascii_lowercase().starts_with("application/json") => Ok(()),
        other => Err(Miss(format!(
            "{}: expected Content-Type application/json, found {other:?}",
            a.what
        ))),
    }
}

async fn transport_accept_without_space(cx: Ctx) -> Verdict {
    let opts = Opts {
        accept: Some("*/*;version=2".into()),
        ..Opts::default()
    };
    let a = cx
        .rest()
        .send(reqwest::Method::GET, "/users/", None, &opts)
        .await?;
    status(&a, 200)?;
    super::has_kind(&a.what, &a.body, "results", "array")
}

async fn transport_missing_trailing_slash_is_404(cx: Ctx) -> Verdict {
    let a = cx.rest().get("/users").await?;
    status(&a, 404)
}

async fn transport_unknown_route_is_404(cx: Ctx) -> Verdict {
    let a = cx
        .rest()
        .get(&format!("/{}/", cx.id("no-such-resource")))
        .await?;
    status(&a, 404)
}

async fn transport_wrong_method_is_405(cx: Ctx) -> Verdict {
    let a = cx
        .rest()
        .send(
            reqwest::Method::PUT,
            "/users/search/",
            Some(&serde_json::json!({})),
            &Opts::default(),
        )
        .await?;
    status(&a, 405)
}

async fn transport_unknown_user_id_is_404(cx: Ctx) -> Verdict {
    let a = cx.rest().get("/users/2147480001/").await?;
    status(&a, 404)
}

async fn transport_not_found_has_detail(cx: Ctx) -> Verdict {
    let a = cx.rest().get("/users/2147480001/").await?;
    status(&a, 404)?;
    detail_string(&a)
}

async fn transport_unknown_custom_id_is_404(cx: Ctx) -> Verdict {
    let a = cx
        .rest()
        .get(&format!("/users-by-id/{}/", cx.id("nobody")))
        .await?;
    status(&a, 404)
}

async fn transport_unknown_company_custom_id_is_404(cx: Ctx) -> Verdict {
    let a = cx
        .rest()
        .get(&format!("/companies-by-id/{}/", cx.id("no-company")))
        .await?;
    status(&a, 404)
}

async fn transport_events_of_unknown_custom_id_is_404(cx: Ctx) -> Verdict {
    let a = cx
        .rest()
        .get(&format!("/users-by-id/{}/events/", cx.id("nobody")))
        .await?;
    status(&a, 404)
}

async fn transport_malformed_json_is_400(cx: Ctx) -> Verdict {
    let opts = Opts {
        raw_body: Some("{\"custom_id\": ".into()),
        ..Opts::default()
    };
    let a = cx
        .rest()
        .send(reqwest::Method::POST, "/users/", None, &opts)
        .await?;
    status(&a, 400)?;
    detail_string(&a)
}
