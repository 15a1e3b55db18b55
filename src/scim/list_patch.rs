//! PATCH of the multi-valued attributes held as rows rather than in a resource's JSON (a group's
//! `members`; a user's `roles` and `entitlements` when the catalog backs them), interpreted:
//! which operations of a request change such a list (applied to rows, so one element costs the
//! same in a list of ten or fifty thousand) and which change the resource's own attributes
//! (applied to its JSON by the PATCH engine).

use serde_json::{Map, Value};

use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::{CompValue, CompareOp, Expr, ValueFilter};
use crate::scim::patch::{PatchOpKind, PatchOperation};
use crate::scim::schema::{GROUP_SCHEMA, USER_SCHEMA};

/// A multi-valued attribute held as rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowList {
    pub name: &'static str,
    /// The core schema it belongs to (a path may be qualified with it).
    pub urn: &'static str,
    /// What one element is called in messages.
    pub noun: &'static str,
}

pub const MEMBERS: RowList = RowList { name: "members", urn: GROUP_SCHEMA, noun: "member" };
pub const ROLES: RowList = RowList { name: "roles", urn: USER_SCHEMA, noun: "role" };
pub const ENTITLEMENTS: RowList =
    RowList { name: "entitlements", urn: USER_SCHEMA, noun: "entitlement" };

impl RowList {
    fn is(&self, name: &str, urn: Option<&str>) -> bool {
        name.eq_ignore_ascii_case(self.name) && urn.is_none_or(|u| u.eq_ignore_ascii_case(self.urn))
    }
}

/// One element as the client names it: its `value` (a member's id, a catalog item's id) and,
/// when given, its `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub value: String,
    pub kind: Option<String>,
}

impl Element {
    pub fn new(value: impl Into<String>) -> Element {
        Element { value: value.into(), kind: None }
    }
}

/// One change to a list.
#[derive(Debug, Clone, PartialEq)]
pub enum ListChange {
    Add(Vec<Element>),
    /// The elements with these values (of the given `type`, when one is given).
    Remove(Vec<Element>),
    /// `attr[<filter>]` on something other than values (e.g. `type eq "Group"`): evaluated over
    /// the current elements.
    RemoveMatching(ValueFilter),
    RemoveAll,
    ReplaceAll(Vec<Element>),
}

/// A PATCH request split in two.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SplitPatch {
    /// In request order; applied to rows.
    pub lists: Vec<(RowList, ListChange)>,
    /// Everything else, for the PATCH engine.
    pub attributes: Vec<PatchOperation>,
}

/// The elements of a list value (Okta and Entra send `[{"value": id, "display": …}]`); a single
/// object counts as a list of one, `null` as an empty list. `display` is ignored: it is computed.
pub fn elements(list: &Value, of: RowList) -> ScimResult<Vec<Element>> {
    let items: Vec<&Value> = match list {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        single => vec![single],
    };
    items
        .into_iter()
        .map(|item| {
            let value = item.get("value").and_then(Value::as_str).filter(|v| !v.is_empty());
            let kind = match item.get("type") {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(kind)) => Ok(Some(kind.clone())),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "a {}'s 'type' must be a string",
                    of.noun
                ))),
            };
            match value {
                Some(value) => Ok(Element { value: value.to_owned(), kind: kind? }),
                None => Err(ScimError::invalid_value(format!(
                    "each {} needs a string 'value' (the {}'s id)",
                    of.noun, of.noun
                ))),
            }
        })
        .collect()
}

/// The ids of a group's member list value.
pub fn member_ids(list: &Value) -> ScimResult<Vec<String>> {
    Ok(elements(list, MEMBERS)?.into_iter().map(|e| e.value).collect())
}

/// Takes the row-held lists out of a normalised body: each one it names, with its elements.
pub fn take_lists(data: &mut Value, lists: &[RowList]) -> ScimResult<Vec<(RowList, Vec<Element>)>> {
    let Some(object) = data.as_object_mut() else {
        return Ok(Vec::new());
    };
    let mut taken = Vec::new();
    for list in lists {
        let key = object.keys().find(|k| list.is(k, None)).cloned();
        match key.and_then(|k| object.remove(&k)) {
            None | Some(Value::Null) => {}
            Some(value) => taken.push((*list, elements(&value, *list)?)),
        }
    }
    Ok(taken)
}

/// Removes the row-held lists from a stored body without reading them (values a resource kept
/// in its JSON before a list was held as rows).
pub fn drop_lists(data: &mut Value, lists: &[RowList]) {
    if let Some(object) = data.as_object_mut() {
        object.retain(|key, _| !lists.iter().any(|l| l.is(key, None)));
    }
}

/// Values named by `value eq "id"` comparisons joined with `or`, if that is all the filter is.
fn values_in_filter(filter: &ValueFilter, out: &mut Vec<Element>) -> bool {
    match filter {
        Expr::Compare { path, op: CompareOp::Eq, value: CompValue::Str(id) }
            if path.urn.is_none()
                && path.sub.is_none()
                && path.name.eq_ignore_ascii_case("value") =>
        {
            out.push(Element::new(id.clone()));
            true
        }
        Expr::Or(a, b) => values_in_filter(a, out) && values_in_filter(b, out),
        _ => false,
    }
}

/// Separates operations on the row-held `lists` (applied to rows) from the rest (applied to the
/// JSON).
pub fn split_operations(ops: Vec<PatchOperation>, lists: &[RowList]) -> ScimResult<SplitPatch> {
    let mut split = SplitPatch::default();
    for op in ops {
        let list = op
            .path
            .as_ref()
            .and_then(|p| lists.iter().find(|l| l.is(&p.attr.name, p.attr.urn.as_deref())));
        match (&op.path, list) {
            (Some(path), Some(list)) => {
                if path.attr.sub.is_some() || path.sub_attr.is_some() {
                    return Err(ScimError::invalid_path(format!(
                        "{} sub-attributes cannot be patched; add or remove whole {}s",
                        list.noun, list.noun
                    )));
                }
                let change = path_change(*list, op.op, path.filter.as_ref(), op.value.as_ref())?;
                split.lists.push((*list, change));
            }
            (None, _) if matches!(op.op, PatchOpKind::Add | PatchOpKind::Replace) => {
                split_pathless(op, lists, &mut split)?
            }
            _ => split.attributes.push(op),
        }
    }
    Ok(split)
}

/// An operation whose path is `<list>` or `<list>[…]`.
fn path_change(
    list: RowList,
    op: PatchOpKind,
    filter: Option<&ValueFilter>,
    value: Option<&Value>,
) -> ScimResult<ListChange> {
    let value = value.filter(|v| !v.is_null());
    Ok(match (op, filter) {
        (PatchOpKind::Add, None) => ListChange::Add(elements(value.unwrap_or(&Value::Null), list)?),
        (PatchOpKind::Replace, None) => {
            ListChange::ReplaceAll(elements(value.unwrap_or(&Value::Null), list)?)
        }
        // Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]} removes only those.
        (PatchOpKind::Remove, None) => match value {
            Some(v) => ListChange::Remove(elements(v, list)?),
            None => ListChange::RemoveAll,
        },
        (PatchOpKind::Remove, Some(filter)) => {
            let mut values = Vec::new();
            if values_in_filter(filter, &mut values) {
                ListChange::Remove(values)
            } else {
                ListChange::RemoveMatching(filter.clone())
            }
        }
        (_, Some(_)) => {
            return Err(ScimError::invalid_path(format!(
                "{name}[…] selects {noun}s to remove; use add or replace on '{name}' to set them",
                name = list.name,
                noun = list.noun
            )));
        }
    })
}

/// A path-less add or replace: its value may carry row-held lists next to other attributes.
fn split_pathless(op: PatchOperation, lists: &[RowList], split: &mut SplitPatch) -> ScimResult<()> {
    let mut rest = Map::new();
    let mut found = Vec::new();
    if let Some(Value::Object(map)) = &op.value {
        for (key, value) in map {
            match lists.iter().find(|l| l.is(key, None)) {
                Some(list) => found.push((*list, value.clone())),
                None => {
                    rest.insert(key.clone(), value.clone());
                }
            }
        }
    }
    if found.is_empty() {
        split.attributes.push(op);
        return Ok(());
    }
    for (list, value) in found {
        let elements = elements(&value, list)?;
        split.lists.push((
            list,
            if op.op == PatchOpKind::Add {
                ListChange::Add(elements)
            } else {
                ListChange::ReplaceAll(elements)
            },
        ));
    }
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
        split_operations(parse_patch_request(&body)?, &[MEMBERS])
    }

    fn ids(list: &[&str]) -> Vec<Element> {
        list.iter().map(|s| Element::new(*s)).collect()
    }

    /// The member changes of a split, in order.
    fn changes(split: &SplitPatch) -> Vec<ListChange> {
        split
            .lists
            .iter()
            .map(|(list, change)| {
                assert_eq!(*list, MEMBERS);
                change.clone()
            })
            .collect()
    }

    #[test]
    fn member_operations_become_row_changes() {
        use ListChange::*;
        let cases: Vec<(Value, Vec<ListChange>)> = vec![
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
            assert_eq!(changes(&got), expected, "{ops}");
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
        assert_eq!(changes(&got), vec![ListChange::RemoveMatching(expected)]);
        // `value eq` joined with `and` is not a plain id list either.
        let got = split(
            json!([{"op": "remove", "path": "members[value eq \"a\" and type eq \"User\"]"}]),
        )
        .unwrap();
        assert!(matches!(changes(&got).as_slice(), [ListChange::RemoveMatching(_)]));
    }

    #[test]
    fn pathless_values_split_members_from_attributes() {
        let got = split(json!([{"op": "replace", "value": {"displayName": "Eng", "members": [{"value": "u1"}]}}]))
            .unwrap();
        assert_eq!(changes(&got), vec![ListChange::ReplaceAll(ids(&["u1"]))]);
        assert_eq!(got.attributes.len(), 1);
        assert_eq!(got.attributes[0].op, PatchOpKind::Replace);
        assert_eq!(got.attributes[0].value, Some(json!({"displayName": "Eng"})));

        let got = split(json!([{"op": "add", "value": {"members": [{"value": "u1"}]}}])).unwrap();
        assert_eq!(changes(&got), vec![ListChange::Add(ids(&["u1"]))]);
        assert!(got.attributes.is_empty());

        let got = split(json!([{"op": "replace", "value": {"displayName": "Eng"}}])).unwrap();
        assert!(got.lists.is_empty());
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
        assert_eq!(changes(&got), vec![ListChange::Add(ids(&["u1"]))]);
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
        assert_eq!(member_ids(&json!({"value": "a"})).unwrap(), ["a"]);
        assert_eq!(
            member_ids(&json!([{"value": "a"}, {"value": "b", "display": "B"}])).unwrap(),
            ["a", "b"]
        );
        assert!(member_ids(&json!(["a"])).is_err());
    }

    fn split_user(ops: Value, lists: &[RowList]) -> ScimResult<SplitPatch> {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": ops,
        });
        split_operations(parse_patch_request(&body)?, lists)
    }

    #[test]
    fn a_users_roles_and_entitlements_split_like_members() {
        let both = [ROLES, ENTITLEMENTS];
        let license = |v: &str| Element { value: v.into(), kind: Some("License".into()) };
        let cases: Vec<(Value, Vec<(RowList, ListChange)>)> = vec![
            (
                json!([{"op": "add", "path": "roles", "value": [{"value": "admin", "display": "Admin"}]}]),
                vec![(ROLES, ListChange::Add(ids(&["admin"])))],
            ),
            (
                json!([{"op": "add", "path": "entitlements", "value": [{"value": "pro", "type": "License"}]}]),
                vec![(ENTITLEMENTS, ListChange::Add(vec![license("pro")]))],
            ),
            (
                json!([{"op": "remove", "path": "entitlements[value eq \"pro\"]"}]),
                vec![(ENTITLEMENTS, ListChange::Remove(ids(&["pro"])))],
            ),
            (
                json!([{"op": "Remove", "path": "roles", "value": [{"value": "admin"}]}]),
                vec![(ROLES, ListChange::Remove(ids(&["admin"])))],
            ),
            (
                json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:Roles", "value": []}]),
                vec![(ROLES, ListChange::ReplaceAll(vec![]))],
            ),
            (json!([{"op": "remove", "path": "roles"}]), vec![(ROLES, ListChange::RemoveAll)]),
            (
                json!([{"op": "replace", "value": {"roles": [{"value": "a"}], "entitlements": [{"value": "pro", "type": "License"}]}}]),
                vec![
                    (ROLES, ListChange::ReplaceAll(ids(&["a"]))),
                    (ENTITLEMENTS, ListChange::ReplaceAll(vec![license("pro")])),
                ],
            ),
        ];
        for (ops, expected) in cases {
            let got = split_user(ops.clone(), &both).unwrap();
            assert_eq!(got.lists, expected, "{ops}");
            assert!(got.attributes.is_empty(), "{ops}");
        }
        // A value filter naming the type is evaluated over the user's entitlements.
        let got = split_user(
            json!([{"op": "remove", "path": "entitlements[type eq \"License\" and value eq \"pro\"]"}]),
            &both,
        )
        .unwrap();
        assert!(matches!(got.lists.as_slice(), [(ENTITLEMENTS, ListChange::RemoveMatching(_))]));
        // A group's list is not a user's: `members` on a user goes to the PATCH engine.
        let got =
            split_user(json!([{"op": "add", "path": "members", "value": [{"value": "u"}]}]), &both)
                .unwrap();
        assert!(got.lists.is_empty() && got.attributes.len() == 1);
    }

    #[test]
    fn lists_the_catalog_does_not_back_stay_attributes() {
        // Without entitlement types, `entitlements` are free-form values in the JSON.
        let got = split_user(
            json!([
                {"op": "add", "path": "entitlements", "value": [{"value": "x"}]},
                {"op": "replace", "value": {"displayName": "J", "roles": [{"value": "a"}], "entitlements": []}}
            ]),
            &[ROLES],
        )
        .unwrap();
        assert_eq!(got.lists, vec![(ROLES, ListChange::ReplaceAll(ids(&["a"])))]);
        assert_eq!(got.attributes.len(), 2);
        assert_eq!(got.attributes[1].value, Some(json!({"displayName": "J", "entitlements": []})));
    }

    #[test]
    fn lists_leave_a_body_and_keep_their_types() {
        let mut data = json!({"userName": "j", "Roles": [{"value": "a", "display": "A"}], "entitlements": null, "emails": []});
        let taken = take_lists(&mut data, &[ROLES, ENTITLEMENTS]).unwrap();
        assert_eq!(taken, vec![(ROLES, ids(&["a"]))]);
        assert_eq!(data, json!({"userName": "j", "emails": []}));
        let mut data = json!({"entitlements": [{"value": "p", "type": 3}]});
        let err = take_lists(&mut data, &[ENTITLEMENTS]).unwrap_err();
        assert!(err.detail.contains("entitlement's 'type'"), "{}", err.detail);
        let err = elements(&json!([{"display": "x"}]), ROLES).unwrap_err();
        assert!(err.detail.contains("each role needs"), "{}", err.detail);
        // A legacy value, however malformed, is dropped without being read.
        let mut data = json!({"userName": "j", "roles": [{"no": "value"}], "entitlements": 3});
        drop_lists(&mut data, &[ROLES]);
        assert_eq!(data, json!({"userName": "j", "entitlements": 3}));
    }
}
