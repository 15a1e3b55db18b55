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
    }
}

diesel::joinable!(static_tokens -> tenants (tenant_id));

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    static_tokens,
    scim_users,
    scim_groups,
    group_members,
    resource_values,
);
