//! Fleet health: the tenants page as a dashboard at 10 000 tenants (seeded in one transaction),
//! the ones needing attention first, searchable and paged, with each tenant's counts and last
//! day's requests; and the same data from `scimd tenant list --health --json`.

use std::time::Duration;

use diesel::prelude::*;
use reqwest::StatusCode;
use scimd::db::StoreError;
use scimd::db::repo::activity;
use scimd::db::repo::request_log;
use scimd::db::rows::TenantRow;
use scimd::db::schema::tenants;
use serde_json::{Value, json};

use crate::support::cli::scimd;
use crate::support::*;

const SEEDED: usize = 10_000;

#[tokio::test]
async fn the_dashboard_shows_the_tenants_needing_attention_first_at_ten_thousand_tenants() {
    let app = spawn_app().await;
    let now = app.clock.now();
    let day = 86_400_000;
    let rows: Vec<TenantRow> = (0..SEEDED)
        .map(|n| TenantRow {
            id: format!("seed-{n:05}"),
            slug: format!("tenant-{n:05}"),
            name: format!("Customer {n}"),
            disabled: n == 7,
            created_at: now,
        })
        .collect();
    app.db
        .write(|conn| {
            for chunk in rows.chunks(500) {
                for row in chunk {
                    diesel::insert_into(tenants::table).values(row).execute(conn)?;
                }
            }
            // One failing after a success, one silent for eight days, one working.
            activity::record(conn, "seed-00042", now - 2 * day, None)?;
            activity::record(
                conn,
                "seed-00042",
                now - 60_000,
                Some((401, "the bearer token has been revoked")),
            )?;
            activity::record(conn, "seed-00100", now - 8 * day, None)?;
            activity::record(conn, "seed-00200", now - 60_000, None)?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    // The test tenant works: a create and a refused duplicate, recorded by the inspector.
    expect_json(app.post("/Users", &okta_user("ada@acme.test")).await, StatusCode::CREATED).await;
    app.post("/Users", &okta_user("ada@acme.test")).await;
    for _ in 0..100 {
        let n = app.db.read(|conn| Ok::<_, StoreError>(request_log::count(conn)?)).unwrap();
        if n >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    create_operator(&app);
    let operator = app.operator().await;
    let first = operator.page("/admin", StatusCode::OK).await;
    assert!(first.contains(&format!("{} tenant(s)", SEEDED + 1)), "the total is counted");
    let failing = first.find("tenant-00042").expect("the failing tenant is on the first page");
    let never = first.find("tenant-00000").expect("then those never connected");
    assert!(failing < never, "failing before never connected");
    assert!(first.contains("the bearer token has been revoked"));
    assert!(first.contains("<svg class=\"chart\""), "a chart per row");
    assert!(!first.contains("tenant-00200") && !first.contains("tenant-00100"));
    // Idle and working tenants come after those, the disabled one last of all.
    let before_last = operator.page("/admin?start=9950", StatusCode::OK).await;
    let idle = before_last.find("tenant-00100").expect("the idle tenant near the end");
    let working = before_last.find("tenant-00200").expect("then the working ones");
    assert!(idle < working && !before_last.contains("tenant-00007"));
    let last = operator.page("/admin?start=10000", StatusCode::OK).await;
    assert!(last.contains("tenant-00007") && last.contains(">disabled<"));
    assert!(last.contains("id=\"prev\"") && !last.contains("id=\"next\""));
    // Search narrows to one; its counts and its day's requests are there.
    let acme = operator.page("/admin?q=acme", StatusCode::OK).await;
    assert!(acme.contains("1 tenant(s)") && acme.contains(">working<"), "{acme}");
    assert!(acme.contains("2 requests") && acme.contains("1 failed"), "the 409 is a failure");
    assert!(acme.contains("aria-label=\"2 requests, 1 failed, last 24 hours\""));

    // The same data for scripts.
    let health =
        scimd(&app.settings.database_url, &["tenant", "list", "--health", "--search", "acme"]);
    let acme = &health["tenants"][0];
    assert_eq!(acme["slug"], "acme");
    assert_eq!((acme["status"].as_str(), acme["users"].as_i64()), (Some("working"), Some(1)));
    assert_eq!((acme["requests_24h"].as_i64(), acme["failures_24h"].as_i64()), (Some(2), Some(1)));
    assert_eq!(acme["static_tokens"], 1);
    assert_eq!(acme["hourly"].as_array().unwrap().len(), 24);
    let all = scimd(&app.settings.database_url, &["tenant", "list", "--health"]);
    let statuses: Vec<&str> =
        all["tenants"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.len(), SEEDED + 1);
    assert_eq!(&statuses[..2], ["failing", "never_connected"]);
    assert_eq!(statuses.last(), Some(&"disabled"));
    let idle =
        all["tenants"].as_array().unwrap().iter().find(|t| t["slug"] == "tenant-00100").unwrap();
    assert_eq!(idle["status"], json!("idle"));
    let _: &Value = idle;
}
