//! Custom attribute definitions of an app, and the conversion of a custom key's value on write
//! (the table itself is [`super::coerce`]).

use std::borrow::Cow;

use serde_json::Value;

use super::coerce::{self, AttrDef, ContentType, ValueType};
use super::schema::reserved_name;
use super::{ct_slot, AppData, Notes};
use crate::error::{Error, Result};

impl AppData {
    /// Define an attribute. Errors name the field: an existing `name_std` for the content type, a
    /// reserved name, or a `fixed` type without choices.
    pub fn define_attribute(
        &mut self,
        name: &str,
        value_type: ValueType,
        content_type: ContentType,
        choices: Vec<String>,
        allow_multiple_choices: bool,
    ) -> Result<&AttrDef> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 32 {
            return Err(Error::bad("name", "must be 1 to 32 characters"));
        }
        let std = coerce::name_std(name);
        if reserved_name(content_type, &std) {
            return Err(Error::bad(
                "name",
                format!("`{std}` is a standard field, not a custom attribute"),
            ));
        }
        if self.idx.attr[ct_slot(content_type)].contains_key(&std) {
            return Err(Error::bad(
                "name",
                format!(
                    "a {} attribute `{std}` already exists",
                    content_type.as_str()
                ),
            ));
        }
        if value_type == ValueType::Fixed && choices.is_empty() {
            return Err(Error::bad(
                "choices",
                "required (a non-empty list) for a fixed attribute",
            ));
        }
        Ok(self.push_attr(
            name.to_owned(),
            std,
            value_type,
            content_type,
            choices,
            allow_multiple_choices,
        ))
    }

    fn push_attr(
        &mut self,
        name: String,
        name_std: String,
        value_type: ValueType,
        content_type: ContentType,
        choices: Vec<String>,
        allow_multiple_choices: bool,
    ) -> &AttrDef {
        self.ids.attribute += 1;
        let def = AttrDef {
            id: self.ids.attribute,
            name,
            name_std: name_std.clone(),
            value_type,
            content_type,
            choices,
            allow_multiple_choices,
        };
        self.idx.attr[ct_slot(content_type)].insert(name_std, self.attributes.len());
        self.attributes.push(def);
        &self.attributes[self.attributes.len() - 1]
    }

    /// Attribute definitions, optionally of one content type, in id order.
    pub fn attributes(&self, ct: Option<ContentType>) -> impl Iterator<Item = &AttrDef> {
        self.attributes
            .iter()
            .filter(move |a| ct.is_none_or(|c| a.content_type == c))
    }

    /// The conversion rule for one custom key. Returns the value to store (`Some(Value::Null)`
    /// clears a defined attribute) or `None` when nothing is written. The name borrows `key`
    /// when `key` already is its own `name_std` (no allocation on the hot path).
    pub(super) fn convert_custom<'k>(
        &mut self,
        ct: ContentType,
        key: &'k str,
        v: &Value,
        notes: &mut Notes,
    ) -> Option<(Cow<'k, str>, Value)> {
        let std = coerce::name_std_cow(key);
        if std.is_empty() {
            notes.push(format!(
                "ignored {} attribute with an empty name",
                ct.as_str()
            ));
            return None;
        }
        match self.idx.attr[ct_slot(ct)].get(&*std) {
            Some(&i) => {
                if v.is_null() {
                    return Some((std, Value::Null));
                }
                let def = &self.attributes[i];
                match coerce::convert(def, v) {
                    Some(c) => Some((std, c)),
                    None => {
                        notes.push(format!(
                            "dropped {} attribute `{std}`: {v} cannot be converted to {}",
                            ct.as_str(),
                            def.value_type.as_str()
                        ));
                        None
                    }
                }
            }
            None if v.is_null() => None,
            None => {
                // The destination doc: an unknown attribute is created with type string.
                self.push_attr(
                    key.trim().to_owned(),
                    std.clone().into_owned(),
                    ValueType::String,
                    ct,
                    vec![],
                    false,
                );
                notes.push(format!(
                    "defined {} attribute `{std}` as string",
                    ct.as_str()
                ));
                Some((std, Value::String(coerce::stringify(v))))
            }
        }
    }
}
