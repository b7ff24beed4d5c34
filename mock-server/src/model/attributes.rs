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
    /// reserved name, a `fixed` type without choices, or (strict mode) the simulator's own
    /// `event` content type.
    pub fn define_attribute(
        &mut self,
        name: &str,
        value_type: ValueType,
        content_type: ContentType,
        choices: Vec<String>,
        allow_multiple_choices: bool,
    ) -> Result<&AttrDef> {
        if name.trim().is_empty() || name.chars().count() > 32 {
            return Err(Error::bad(
                "name",
                "must be 1 to 32 characters, not only whitespace",
            ));
        }
        if self.strict && content_type == ContentType::Event {
            return Err(Error::bad(
                "content_type",
                "strict mode: `event` is not one of User.com's documented content types (clientuser, company; also activity, deal, product, ticket, which the simulator does not model)",
            ));
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
        if reserved_name(ct, &std) {
            // `firstName` → `first_name`: a standard field's name can never be a custom
            // attribute (`POST /attributes/` refuses it), and the key as sent is not that field.
            notes.push(format!(
                "ignored `{key}`: its name_std `{std}` is a reserved {} field name, not a custom attribute",
                ct.as_str()
            ));
            return None;
        }
        if self.strict {
            if std != key {
                // User.com matches payload keys against `name_std` (usercom-api.md §3.2); that
                // it normalises a key first is nowhere documented, so strict mode does not.
                notes.push(format!(
                    "{} attribute key `{key}` is not a name_std (`{std}`): ignored (strict mode matches keys exactly)",
                    ct.as_str()
                ));
                return None;
            }
            return self.convert_custom_strict(ct, std, v, notes);
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
                    key.to_owned(),
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

    /// Strict mode's rule for one custom key (its value already passed
    /// [`AppData::check_custom_strict`]): a defined attribute stores the value as sent (`null`
    /// clears it); an undefined one is not stored, and the journal says so.
    fn convert_custom_strict<'k>(
        &self,
        ct: ContentType,
        std: Cow<'k, str>,
        v: &Value,
        notes: &mut Notes,
    ) -> Option<(Cow<'k, str>, Value)> {
        let Some(&i) = self.idx.attr[ct_slot(ct)].get(&*std) else {
            notes.push(format!(
                "{} attribute `{std}` is not defined: ignored",
                ct.as_str()
            ));
            return None;
        };
        if v.is_null() {
            return Some((std, Value::Null));
        }
        let def = &self.attributes[i];
        match coerce::check_strict(def, v) {
            Ok(stored) => Some((std, stored)),
            Err(problem) => {
                // Not reached: the request was checked before anything was applied.
                notes.push(format!(
                    "dropped {} attribute `{std}`: {problem}",
                    ct.as_str()
                ));
                None
            }
        }
    }

    /// Strict mode: a wrong-typed value for a defined attribute is a 400 naming the key as sent.
    /// Runs before anything is applied, so a refused request writes nothing. No-op in the
    /// default mode (which converts or drops instead) and for undefined keys (ignored later).
    pub(super) fn check_custom_strict(&self, ct: ContentType, key: &str, v: &Value) -> Result<()> {
        if !self.strict || v.is_null() {
            return Ok(());
        }
        let std = coerce::name_std_cow(key);
        let Some(&i) = self.idx.attr[ct_slot(ct)].get(&*std) else {
            return Ok(());
        };
        let def = &self.attributes[i];
        coerce::check_strict(def, v).map(drop).map_err(|problem| {
            Error::bad(
                key,
                format!(
                    "{problem} (the {} attribute `{std}` is defined as {})",
                    ct.as_str(),
                    def.value_type.as_str()
                ),
            )
        })
    }
}
