//! The one portable diesel schema for both backends (Text, BigInt, Bool only).

diesel::table! {
    tenants (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        disabled -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    static_tokens (id) {
        id -> Text,
        tenant_id -> Text,
        label -> Text,
        token_hash -> Text,
        hint -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    scim_users (seq) {
        seq -> BigInt,
        id -> Text,
        tenant_id -> Text,
        user_name -> Text,
        user_name_ci -> Text,
        external_id -> Nullable<Text>,
        display_name -> Nullable<Text>,
        display_name_ci -> Nullable<Text>,
        active -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        version -> BigInt,
        data -> Text,
    }
}

diesel::table! {
    scim_groups (seq) {
        seq -> BigInt,
        id -> Text,
        tenant_id -> Text,
        display_name -> Text,
        display_name_ci -> Text,
        external_id -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        version -> BigInt,
        data -> Text,
    }
}

diesel::table! {
    group_members (group_id, member_id) {
        group_id -> Text,
        member_id -> Text,
        tenant_id -> Text,
        member_type -> Text,
        member_user_id -> Nullable<Text>,
        member_group_id -> Nullable<Text>,
    }
}

diesel::table! {
    resource_values (resource_id, attr, element) {
        resource_id -> Text,
        tenant_id -> Text,
        attr -> Text,
        element -> Text,
        value -> Text,
        value_ci -> Text,
        value_num -> Nullable<Double>,
        value_key -> Text,
    }
}

diesel::table! {
    admin_accounts (id) {
        id -> Text,
        tenant_id -> Text,
        email -> Text,
        email_ci -> Text,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    web_sessions (id_hash) {
        id_hash -> Text,
        admin_id -> Text,
        csrf_token -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    login_throttle (throttle_key) {
        throttle_key -> Text,
        failures -> BigInt,
        window_start -> BigInt,
        locked_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    oauth_clients (id) {
        id -> Text,
        name -> Text,
        secret_hash -> Text,
        redirect_uris -> Text,
        require_pkce -> Bool,
        created_at -> BigInt,
        secret_rotated_at -> Nullable<BigInt>,
        tenant_id -> Nullable<Text>,
        grant_type -> Text,
        scope -> Nullable<Text>,
        access_ttl_secs -> Nullable<BigInt>,
        auth_method -> Text,
    }
}

diesel::table! {
    client_assertion_trust (client_id) {
        client_id -> Text,
        issuer -> Nullable<Text>,
        subject -> Nullable<Text>,
        audience -> Nullable<Text>,
        jwks_uri -> Nullable<Text>,
        jwks -> Nullable<Text>,
    }
}

diesel::table! {
    oauth_client_secrets (id) {
        id -> Text,
        client_id -> Text,
        secret_hash -> Text,
        hint -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        expiry_recorded_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    used_assertions (key_hash) {
        key_hash -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    oauth_grants (id) {
        id -> Text,
        tenant_id -> Text,
        admin_id -> Nullable<Text>,
        client_id -> Text,
        scope -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
        revoked_reason -> Nullable<Text>,
    }
}

diesel::table! {
    oauth_codes (code_hash) {
        code_hash -> Text,
        grant_id -> Text,
        redirect_uri -> Text,
        pkce -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        token_hash -> Text,
        grant_id -> Text,
        parent_id -> Nullable<Text>,
        created_at -> BigInt,
        used_at -> Nullable<BigInt>,
        retired_at -> Nullable<BigInt>,
        access_jti -> Nullable<Text>,
    }
}

diesel::table! {
    revoked_access_tokens (jti) {
        jti -> Text,
        grant_id -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        private_key -> Text,
        public_key -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        at -> BigInt,
        tenant_id -> Nullable<Text>,
        event -> Text,
        actor -> Text,
        client_id -> Nullable<Text>,
        grant_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        detail -> Text,
        fingerprint -> Nullable<Text>,
    }
}

diesel::table! {
    operator_accounts (id) {
        id -> Text,
        email -> Text,
        email_ci -> Text,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    operator_sessions (id_hash) {
        id_hash -> Text,
        operator_id -> Text,
        csrf_token -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    rate_limits (bucket) {
        bucket -> Text,
        window_start -> BigInt,
        hits -> BigInt,
    }
}

diesel::table! {
    tenant_activity (tenant_id) {
        tenant_id -> Text,
        last_request_at -> Nullable<BigInt>,
        last_success_at -> Nullable<BigInt>,
        last_failure_at -> Nullable<BigInt>,
        last_failure_status -> Nullable<BigInt>,
        last_failure_reason -> Nullable<Text>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        label -> Text,
        tenant_id -> Nullable<Text>,
        scopes -> Text,
        key_hash -> Text,
        hint -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        position -> Nullable<BigInt>,
        id -> Text,
        tenant_id -> Text,
        tenant_slug -> Text,
        event_type -> Text,
        resource_id -> Nullable<Text>,
        resource_version -> Nullable<BigInt>,
        occurred_at -> BigInt,
        data -> Text,
    }
}

diesel::table! {
    event_log_state (id) {
        id -> BigInt,
        pruned_through -> BigInt,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        url -> Text,
        tenant_id -> Nullable<Text>,
        event_types -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_until -> Nullable<BigInt>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        fanout_position -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    webhook_cursors (endpoint_id, tenant_id) {
        endpoint_id -> Text,
        tenant_id -> Text,
        position -> BigInt,
        pending -> Bool,
        attempts -> BigInt,
        failing_since -> Nullable<BigInt>,
        next_attempt_at -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (seq) {
        seq -> BigInt,
        endpoint_id -> Text,
        event_id -> Text,
        tenant_id -> Text,
        attempt -> BigInt,
        outcome -> Text,
        status_code -> Nullable<BigInt>,
        latency_ms -> BigInt,
        response_body -> Nullable<Text>,
        at -> BigInt,
    }
}

diesel::table! {
    webhook_replays (seq) {
        seq -> BigInt,
        endpoint_id -> Text,
        event_id -> Text,
        requested_at -> BigInt,
    }
}

diesel::table! {
    catalog_items (seq) {
        seq -> BigInt,
        scope -> Text,
        type_id -> Text,
        item_id -> Text,
        display_name -> Text,
        display_name_ci -> Text,
        description -> Nullable<Text>,
        data -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    user_assignments (user_id, type_id, item_id) {
        tenant_id -> Text,
        user_id -> Text,
        type_id -> Text,
        item_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    request_log (seq) {
        seq -> BigInt,
        tenant_id -> Text,
        at -> BigInt,
        method -> Text,
        path -> Text,
        status -> BigInt,
        scim_type -> Nullable<Text>,
        detail -> Nullable<Text>,
        latency_ms -> BigInt,
        credential -> Nullable<Text>,
        client -> Text,
        user_agent -> Text,
        request_id -> Text,
        request_body -> Nullable<Text>,
        response_body -> Nullable<Text>,
    }
}

diesel::table! {
    request_segments (seq) {
        seq -> BigInt,
        tenant_id -> Text,
        first_at -> BigInt,
        last_at -> BigInt,
        entries -> BigInt,
        statuses -> Text,
        methods -> Text,
        resources -> Text,
        clients -> Text,
        body -> Binary,
    }
}

diesel::table! {
    tenant_hourly (tenant_id, hour) {
        tenant_id -> Text,
        hour -> BigInt,
        requests -> BigInt,
        errors -> BigInt,
    }
}

diesel::joinable!(static_tokens -> tenants (tenant_id));
diesel::joinable!(admin_accounts -> tenants (tenant_id));
diesel::joinable!(web_sessions -> admin_accounts (admin_id));
diesel::joinable!(oauth_grants -> tenants (tenant_id));
diesel::joinable!(oauth_grants -> oauth_clients (client_id));
diesel::joinable!(oauth_client_secrets -> oauth_clients (client_id));
diesel::joinable!(client_assertion_trust -> oauth_clients (client_id));
diesel::joinable!(oauth_codes -> oauth_grants (grant_id));
diesel::joinable!(refresh_tokens -> oauth_grants (grant_id));
diesel::joinable!(revoked_access_tokens -> oauth_grants (grant_id));
diesel::joinable!(operator_sessions -> operator_accounts (operator_id));
diesel::joinable!(tenant_activity -> tenants (tenant_id));
diesel::joinable!(api_keys -> tenants (tenant_id));
diesel::joinable!(webhook_cursors -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_replays -> webhook_endpoints (endpoint_id));

diesel::table! {
    server_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    static_tokens,
    scim_users,
    scim_groups,
    group_members,
    resource_values,
    admin_accounts,
    web_sessions,
    login_throttle,
    oauth_clients,
    oauth_client_secrets,
    client_assertion_trust,
    used_assertions,
    oauth_grants,
    oauth_codes,
    refresh_tokens,
    revoked_access_tokens,
    signing_keys,
    audit_events,
    operator_accounts,
    operator_sessions,
    rate_limits,
    tenant_activity,
    api_keys,
    events,
    event_log_state,
    webhook_endpoints,
    webhook_cursors,
    webhook_deliveries,
    webhook_replays,
    catalog_items,
    user_assignments,
    request_log,
    request_segments,
    tenant_hourly,
);
