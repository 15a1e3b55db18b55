//! Group membership PATCH, interpreted: which operations of a request change the member list
//! (applied to membership rows, so one member costs the same in a group of ten or fifty thousand)
//! and which change the group's own attributes (applied to its JSON by the PATCH engine).

use serde_json::{Map, Value};

use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::{CompValue, CompareOp, Expr, ValueFilter};
use crate::scim::patch::{PatchOpKind, PatchOperation};
use crate::scim::schema::GROUP_SCHEMA;

/// One change to a group's member list.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberChange {
    Add(Vec<String>),
    Remove(Vec<String>),
    /// `members[<filter>]` on something other than ids (e.g. `type eq "Group"`): evaluated over
    /// the current members.
    RemoveMatching(ValueFilter),
    RemoveAll,
    ReplaceAll(Vec<String>),
}

/// A PATCH request of a group, split in two.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SplitPatch {
    /// In request order; applied to membership rows.
    pub members: Vec<MemberChange>,
    /// Everything else, for the PATCH engine.
    pub attributes: Vec<PatchOperation>,
}

/// The `value` of each member object (Okta and Entra send `[{"value": id, "display": …}]`); a
/// single object counts as a list of one, `null` as an empty list.
pub fn member_ids(list: &Value) -> ScimResult<Vec<String>> {
    let items: Vec<&Value> = match list {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        single => vec![single],
    };
    items
        .into_iter()
        .map(|item| {
            item.get("value")
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ScimError::invalid_value("each member needs a string 'value' (the member's id)")
                })
        })
        .collect()
}

fn is_members(name: &str, urn: Option<&str>) -> bool {
    name.eq_ignore_ascii_case("members") && urn.is_none_or(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA))
}

/// Ids named by `value eq "id"` comparisons joined with `or`, if that is all the filter is.
fn ids_in_filter(filter: &ValueFilter, out: &mut Vec<String>) -> bool {
    match filter {
        Expr::Compare { path, op: CompareOp::Eq, value: CompValue::Str(id) }
            if path.urn.is_none()
                && path.sub.is_none()
                && path.name.eq_ignore_ascii_case("value") =>
        {
            out.push(id.clone());
            true
        }
        Expr::Or(a, b) => ids_in_filter(a, out) && ids_in_filter(b, out),
        _ => false,
    }
}

/// Separates operations on `members` (applied to rows) from the rest (applied to the JSON).
pub fn split_operations(ops: Vec<PatchOperation>) -> ScimResult<SplitPatch> {
    let mut split = SplitPatch::default();
    for op in ops {
        match &op.path {
            Some(path) if is_members(&path.attr.name, path.attr.urn.as_deref()) => {
                if path.attr.sub.is_some() || path.sub_attr.is_some() {
                    return Err(ScimError::invalid_path(
                        "member sub-attributes cannot be patched; add or remove whole members",
                    ));
                }
                split.members.push(path_change(op.op, path.filter.as_ref(), op.value.as_ref())?);
            }
            None if matches!(op.op, PatchOpKind::Add | PatchOpKind::Replace) => {
                split_pathless(op, &mut split)?
            }
            _ => split.attributes.push(op),
        }
    }
    Ok(split)
}

/// An operation whose path is `members` or `members[…]`.
fn path_change(
    op: PatchOpKind,
    filter: Option<&ValueFilter>,
    value: Option<&Value>,
) -> ScimResult<MemberChange> {
    let value = value.filter(|v| !v.is_null());
    Ok(match (op, filter) {
        (PatchOpKind::Add, None) => MemberChange::Add(member_ids(value.unwrap_or(&Value::Null))?),
        (PatchOpKind::Replace, None) => {
            MemberChange::ReplaceAll(member_ids(value.unwrap_or(&Value::Null))?)
        }
        // Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]} removes only those.
        (PatchOpKind::Remove, None) => match value {
            Some(v) => MemberChange::Remove(member_ids(v)?),
            None => MemberChange::RemoveAll,
        },
        (PatchOpKind::Remove, Some(filter)) => {
            let mut ids = Vec::new();
            if ids_in_filter(filter, &mut ids) {
                MemberChange::Remove(ids)
            } else {
                MemberChange::RemoveMatching(filter.clone())
            }
        }
        (_, Some(_)) => {
            return Err(ScimError::invalid_path(
                "members[…] selects members to remove; use add or replace on 'members' to set them",
            ));
        }
    })
}

/// A path-less add or replace: its value may carry `members` next to other attributes.
fn split_pathless(op: PatchOperation, split: &mut SplitPatch) -> ScimResult<()> {
    let mut rest = Map::new();
    let mut members = None;
    if let Some(Value::Object(map)) = &op.value {
        for (key, value) in map {
            if is_members(key, None) {
                members = Some(value.clone());
            } else {
                rest.insert(key.clone(), value.clone());
            }
        }
    }
    let Some(list) = members else {
        split.attributes.push(op);
        return Ok(());
    };
    let ids = member_ids(&list)?;
    split.members.push(if op.op == PatchOpKind::Add {
        MemberChange::Add(ids)
    } else {
        MemberChange::ReplaceAll(ids)
    });
    if !rest.is_empty() {
        split.attributes.push(PatchOperation {
            op: op.op,
            path: None,
            value: Some(Value::Object(rest)),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::error::ScimType;
    use crate::scim::patch::parse_patch_request;

    fn split(ops: Value) -> ScimResult<SplitPatch> {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": ops,
        });
        split_operations(parse_patch_request(&body)?)
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn member_operations_become_row_changes() {
        use MemberChange::*;
        let cases: Vec<(Value, Vec<MemberChange>)> = vec![
            (
                json!([{"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]),
                vec![Add(ids(&["u1", "u2"]))],
            ),
            // Okta's single-object form and Entra's capitalised op.
            (
                json!([{"op": "Add", "path": "members", "value": {"value": "u1"}}]),
                vec![Add(ids(&["u1"]))],
            ),
            (json!([{"op": "replace", "path": "members", "value": []}]), vec![ReplaceAll(vec![])]),
            (
                json!([{"op": "replace", "path": "members", "value": null}]),
                vec![ReplaceAll(vec![])],
            ),
            (json!([{"op": "remove", "path": "members"}]), vec![RemoveAll]),
            (json!([{"op": "remove", "path": "members", "value": null}]), vec![RemoveAll]),
            // Entra removes by a value array.
            (
                json!([{"op": "Remove", "path": "members", "value": [{"value": "u3"}]}]),
                vec![Remove(ids(&["u3"]))],
            ),
            (
                json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]),
                vec![Remove(ids(&["u1"]))],
            ),
            (
                json!([{"op": "remove", "path": "members[value eq \"u1\" or value eq \"u2\"]"}]),
                vec![Remove(ids(&["u1", "u2"]))],
            ),
            // URN-qualified and differently cased attribute names.
            (
                json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:Members", "value": [{"value": "u1"}]}]),
                vec![Add(ids(&["u1"]))],
            ),
            // Several operations keep their order.
            (
                json!([
                    {"op": "remove", "path": "members[value eq \"u1\"]"},
                    {"op": "add", "path": "members", "value": [{"value": "u1"}]}
                ]),
                vec![Remove(ids(&["u1"])), Add(ids(&["u1"]))],
            ),
        ];
        for (ops, expected) in cases {
            let got = split(ops.clone()).unwrap();
            assert_eq!(got.members, expected, "{ops}");
            assert!(got.attributes.is_empty(), "{ops}");
        }
    }

    #[test]
    fn filters_other_than_ids_are_evaluated_over_members() {
        let got = split(json!([{"op": "remove", "path": "members[type eq \"Group\"]"}])).unwrap();
        let expected = crate::scim::path::parse_patch_path("members[type eq \"Group\"]")
            .unwrap()
            .filter
            .unwrap();
        assert_eq!(got.members, vec![MemberChange::RemoveMatching(expected)]);
        // `value eq` joined with `and` is not a plain id list either.
        let got = split(
            json!([{"op": "remove", "path": "members[value eq \"a\" and type eq \"User\"]"}]),
        )
        .unwrap();
        assert!(matches!(got.members.as_slice(), [MemberChange::RemoveMatching(_)]));
    }

    #[test]
    fn pathless_values_split_members_from_attributes() {
        let got = split(json!([{"op": "replace", "value": {"displayName": "Eng", "members": [{"value": "u1"}]}}]))
            .unwrap();
        assert_eq!(got.members, vec![MemberChange::ReplaceAll(ids(&["u1"]))]);
        assert_eq!(got.attributes.len(), 1);
        assert_eq!(got.attributes[0].op, PatchOpKind::Replace);
        assert_eq!(got.attributes[0].value, Some(json!({"displayName": "Eng"})));

        let got = split(json!([{"op": "add", "value": {"members": [{"value": "u1"}]}}])).unwrap();
        assert_eq!(got.members, vec![MemberChange::Add(ids(&["u1"]))]);
        assert!(got.attributes.is_empty());

        let got = split(json!([{"op": "replace", "value": {"displayName": "Eng"}}])).unwrap();
        assert!(got.members.is_empty());
        assert_eq!(got.attributes.len(), 1);
    }

    #[test]
    fn other_attributes_go_to_the_patch_engine() {
        let got = split(json!([
            {"op": "replace", "path": "displayName", "value": "Eng"},
            {"op": "remove", "path": "externalId"},
            {"op": "add", "path": "members", "value": [{"value": "u1"}]}
        ]))
        .unwrap();
        assert_eq!(got.members, vec![MemberChange::Add(ids(&["u1"]))]);
        let paths: Vec<String> =
            got.attributes.iter().map(|op| op.path.as_ref().unwrap().to_string()).collect();
        assert_eq!(paths, ["displayName", "externalId"]);
    }

    #[test]
    fn refusals() {
        let cases: Vec<(Value, ScimType)> = vec![
            (
                json!([{"op": "replace", "path": "members.value", "value": "x"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "replace", "path": "members[value eq \"a\"].display", "value": "x"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "add", "path": "members[value eq \"a\"]", "value": [{"value": "a"}]}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "add", "path": "members", "value": [{"display": "no id"}]}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "add", "path": "members", "value": [{"value": ""}]}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "add", "path": "members", "value": [{"value": 7}]}]),
                ScimType::InvalidValue,
            ),
            (json!([{"op": "replace", "value": {"members": ["u1"]}}]), ScimType::InvalidValue),
        ];
        for (ops, expected) in cases {
            let err = split(ops.clone()).unwrap_err();
            assert_eq!(err.scim_type, Some(expected), "{ops}");
            assert_eq!(err.status, 400, "{ops}");
        }
    }

    #[test]
    fn member_ids_accept_lists_objects_and_null() {
        assert_eq!(member_ids(&Value::Null).unwrap(), Vec::<String>::new());
        assert_eq!(member_ids(&json!({"value": "a"})).unwrap(), ids(&["a"]));
        assert_eq!(
            member_ids(&json!([{"value": "a"}, {"value": "b", "display": "B"}])).unwrap(),
            ids(&["a", "b"])
        );
        assert!(member_ids(&json!(["a"])).is_err());
    }
}
