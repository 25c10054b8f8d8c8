//! Walks the OLX tree: root resolution, pointers, policies, inheritance.

use std::collections::{BTreeSet, HashSet};

use md5::{Digest, Md5};
use roxmltree::{Document, Node, ParsingOptions};
use serde_json::{Map, Value};

use crate::error::{OlxError, SourceLocation, Warning, WarningKind};
use crate::keys::{CourseKey, is_id_char, is_valid_block_id};
use crate::settings::Settings;
use crate::source::FileMap;
use crate::{Block, Course};

/// Block types whose child elements are blocks. Every other block is a leaf
/// whose child elements are its content (capa markup, ORA rubrics, video
/// sources, …).
const CONTAINERS: &[&str] = &[
    "course",
    "chapter",
    "sequential",
    "vertical",
    "library",
    "library_content",
    "split_test",
    "conditional",
    "randomize",
    "itembank",
    "videosequence",
    "problemset",
    "wrapper",
];

/// Top-level folders that hold no block definitions, so `.xml` files in them
/// are never reported as orphans. `course/` holds one file per run, and an
/// export may carry several runs.
const NON_BLOCK_DIRS: &[&str] = &[
    "about",
    "info",
    "policies",
    "static",
    "assets",
    "drafts",
    "roots",
    "tabs",
    "custom_tags",
    "course",
];

/// Deeper nesting than this is refused rather than risking the stack; real
/// courses are about six levels deep.
const MAX_DEPTH: usize = 64;

/// Reads the (re-rooted) file map into a course.
pub(crate) fn read(files: &FileMap, warnings: Vec<Warning>) -> Result<Course, OlxError> {
    let reader = Reader {
        files,
        key: CourseKey::new("", "", ""),
        policy: Map::new(),
        policy_file: None,
        used_policy: HashSet::new(),
        seen: HashSet::new(),
        loaded: HashSet::new(),
        blocks: Vec::new(),
        warnings,
    };
    reader.read()
}

struct Reader<'f> {
    files: &'f FileMap,
    key: CourseKey,
    policy: Map<String, Value>,
    /// Path and text of the policy file, for locating unmatched keys.
    policy_file: Option<(String, &'f str)>,
    used_policy: HashSet<String>,
    seen: HashSet<(String, String)>,
    loaded: HashSet<String>,
    blocks: Vec<Block>,
    warnings: Vec<Warning>,
}

/// Where an element starts.
fn element_location(doc: &Document<'_>, file: &str, node: Node<'_, '_>) -> SourceLocation {
    let pos = doc.text_pos_at(node.range().start);
    SourceLocation::at(file, pos.row, pos.col)
}

fn invalid(location: SourceLocation, message: impl Into<String>) -> OlxError {
    OlxError::Invalid {
        location,
        message: message.into(),
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line as u32, col as u32)
}

/// Decodes a file as UTF-8 text (dropping a byte-order mark).
fn file_text<'f>(files: &'f FileMap, path: &str) -> Result<Option<&'f str>, OlxError> {
    let Some(bytes) = files.get(path) else {
        return Ok(None);
    };
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Some(text.strip_prefix('\u{feff}').unwrap_or(text))),
        Err(e) => {
            let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
            let (line, col) = line_col(valid, valid.len());
            Err(OlxError::Xml {
                location: SourceLocation::at(path, line, col),
                message: "file is not valid UTF-8".to_string(),
            })
        }
    }
}

fn parse_xml<'f>(path: &str, text: &'f str) -> Result<Document<'f>, OlxError> {
    // DTDs are allowed because some hand-written OLX declares entities;
    // roxmltree bounds entity expansion itself.
    let options = ParsingOptions {
        allow_dtd: true,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(text, options).map_err(|e| {
        let pos = e.pos();
        OlxError::Xml {
            location: SourceLocation::at(path, pos.row, pos.col),
            message: e.to_string(),
        }
    })
}

fn parse_json(path: &str, text: &str) -> Result<Value, OlxError> {
    // serde_json keeps the last of duplicate object keys, as Python's json
    // module does, which is what real policy files with duplicates need.
    serde_json::from_str(text).map_err(|e| OlxError::Json {
        location: SourceLocation {
            file: path.to_string(),
            line: Some(e.line() as u32),
            column: Some(e.column() as u32),
        },
        message: e.to_string(),
    })
}

/// Open edX's `is_pointer_tag`: no child nodes (comments count, as in lxml),
/// no text, and exactly the attribute `url_name` (for `course`: `url_name`,
/// `org` and `course`).
fn is_pointer(node: Node<'_, '_>) -> bool {
    let expected: &[&str] = if node.tag_name().name() == "course" {
        &["course", "org", "url_name"]
    } else {
        &["url_name"]
    };
    let attrs: BTreeSet<&str> = node.attributes().map(|a| a.name()).collect();
    let has_children = node.children().any(|c| {
        c.is_element()
            || c.is_comment()
            || c.is_pi()
            || c.text().is_some_and(|t| !t.trim().is_empty())
    });
    !has_children && attrs.len() == expected.len() && expected.iter().all(|a| attrs.contains(a))
}

/// Child elements that are settings of their parent, not blocks.
fn is_non_block_child(parent_tag: &str, child_tag: &str) -> bool {
    matches!(
        (parent_tag, child_tag),
        ("course", "wiki") | ("course", "textbook") | ("conditional", "show")
    )
}

/// The file a pointer loads: `<tag>/<url_name>.xml`, with `:` in the
/// url_name standing for a folder separator.
fn pointer_path(tag: &str, url_name: &str) -> String {
    format!("{tag}/{}.xml", url_name.replace(':', "/"))
}

/// An XML attribute value as a setting: `null` means explicitly unset.
fn attr_value(value: &str) -> Value {
    if value == "null" {
        Value::Null
    } else {
        Value::String(value.to_string())
    }
}

/// What the element being visited is defined by.
struct Definition<'a, 'd, 'f> {
    node: Node<'a, 'f>,
    doc: &'d Document<'f>,
    file: &'d str,
}

impl<'f> Reader<'f> {
    fn read(mut self) -> Result<Course, OlxError> {
        let files = self.files;
        let drafts = files.keys().filter(|k| k.starts_with("drafts/")).count();
        if drafts > 0 {
            self.warnings.push(Warning {
                kind: WarningKind::DraftsIgnored,
                location: Some(SourceLocation::file("drafts/")),
                message: format!("ignored {drafts} file(s) of unpublished content under drafts/"),
            });
        }

        let grading_policy;
        if let Some(text) = file_text(files, "course.xml")? {
            grading_policy = self.read_course_root("course.xml", text)?;
        } else if let Some(text) = file_text(files, "library.xml")? {
            self.read_library_root("library.xml", text)?;
            grading_policy = None;
        } else {
            let roots: Vec<&String> = files
                .keys()
                .filter(|k| k.starts_with("roots/") && k.ends_with(".xml"))
                .collect();
            match roots[..] {
                [only] => {
                    let text = file_text(files, only)?.unwrap_or_default();
                    grading_policy = self.read_course_root(only, text)?;
                }
                _ => {
                    return Err(OlxError::NoCourseRoot {
                        message: format!(
                            "no course.xml and {} roots/*.xml files ({}); cannot tell which run to read",
                            roots.len(),
                            roots
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
            }
        }

        self.report_unmatched_policy();
        self.report_orphans();

        let root = &self.blocks[0];
        let display_name = root
            .display_name
            .clone()
            .unwrap_or_else(|| root.url_name.clone());
        Ok(Course {
            key: self.key,
            display_name,
            blocks: self.blocks,
            warnings: self.warnings,
            grading_policy,
        })
    }

    /// `course.xml` (or `roots/<run>.xml`): names the org, course and run,
    /// and either points to `course/<run>.xml` or holds the course inline.
    fn read_course_root(&mut self, path: &str, text: &'f str) -> Result<Option<Value>, OlxError> {
        let doc = parse_xml(path, text)?;
        let root = doc.root_element();
        let location = element_location(&doc, path, root);
        if root.tag_name().name() != "course" {
            return Err(invalid(
                location,
                format!(
                    "root element is <{}>, expected <course>",
                    root.tag_name().name()
                ),
            ));
        }
        let attr = |name: &str| {
            root.attribute(name).map(str::to_string).ok_or_else(|| {
                invalid(
                    location.clone(),
                    format!("<course> has no {name} attribute"),
                )
            })
        };
        let (org, course, run) = (attr("org")?, attr("course")?, attr("url_name")?);
        for (field, value) in [("org", &org), ("course", &course), ("url_name", &run)] {
            if value.is_empty() || !value.chars().all(is_id_char) {
                return Err(invalid(
                    location.clone(),
                    format!("<course> {field}={value:?} is not a valid course key part"),
                ));
            }
        }
        self.key = CourseKey::new(org, course, run.clone());
        self.load_policy(&run)?;
        let grading_policy = self.load_grading_policy(&run)?;
        self.loaded.insert(path.to_string());
        self.visit(root, &doc, path, None, &Map::new(), 0)?;
        Ok(grading_policy)
    }

    /// `library.xml` of a v1 content library: `<library org=… library=…>`
    /// with its blocks as children.
    fn read_library_root(&mut self, path: &str, text: &'f str) -> Result<(), OlxError> {
        let doc = parse_xml(path, text)?;
        let root = doc.root_element();
        let location = element_location(&doc, path, root);
        if root.tag_name().name() != "library" {
            return Err(invalid(
                location,
                format!(
                    "root element is <{}>, expected <library>",
                    root.tag_name().name()
                ),
            ));
        }
        let attr = |name: &str| {
            root.attribute(name).map(str::to_string).ok_or_else(|| {
                invalid(
                    location.clone(),
                    format!("<library> has no {name} attribute"),
                )
            })
        };
        let (org, library) = (attr("org")?, attr("library")?);
        for (field, value) in [("org", &org), ("library", &library)] {
            if value.is_empty() || !value.chars().all(is_id_char) {
                return Err(invalid(
                    location.clone(),
                    format!("<library> {field}={value:?} is not a valid library key part"),
                ));
            }
        }
        self.key = CourseKey::library(org, library);
        self.loaded.insert(path.to_string());
        self.visit(root, &doc, path, None, &Map::new(), 0)?;
        Ok(())
    }

    /// `policies/<run>/policy.json`, or the older `policies/<run>.json`.
    fn load_policy(&mut self, run: &str) -> Result<(), OlxError> {
        let files = self.files;
        for path in [
            format!("policies/{run}/policy.json"),
            format!("policies/{run}.json"),
        ] {
            let Some(bytes) = files.get(&path) else {
                continue;
            };
            let text = std::str::from_utf8(bytes).map_err(|e| OlxError::Json {
                location: SourceLocation::file(&path),
                message: format!("not valid UTF-8: {e}"),
            })?;
            let value = parse_json(&path, text)?;
            let Value::Object(map) = value else {
                return Err(invalid(
                    SourceLocation::at(&path, 1, 1),
                    "policy file must hold a JSON object of \"<category>/<url_name>\" keys",
                ));
            };
            for (key, value) in &map {
                if !value.is_object() {
                    let (line, col) = key_position(text, key);
                    return Err(invalid(
                        SourceLocation::at(&path, line, col),
                        format!("policy entry {key:?} must be a JSON object of settings"),
                    ));
                }
            }
            self.policy = map;
            self.policy_file = Some((path, text));
            return Ok(());
        }
        Ok(())
    }

    /// `policies/<run>/grading_policy.json`, or the top-level
    /// `grading_policy.json` of older courses.
    fn load_grading_policy(&self, run: &str) -> Result<Option<Value>, OlxError> {
        for path in [
            format!("policies/{run}/grading_policy.json"),
            "grading_policy.json".to_string(),
        ] {
            if let Some(bytes) = self.files.get(&path) {
                let text = std::str::from_utf8(bytes).map_err(|e| OlxError::Json {
                    location: SourceLocation::file(&path),
                    message: format!("not valid UTF-8: {e}"),
                })?;
                return parse_json(&path, text).map(Some);
            }
        }
        Ok(None)
    }

    /// Visits one element that defines a block, loading its definition when
    /// it is a pointer. Returns the new block's index (`None` when skipped).
    fn visit(
        &mut self,
        node: Node<'_, 'f>,
        doc: &Document<'f>,
        file: &str,
        parent: Option<usize>,
        inherited: &Map<String, Value>,
        depth: usize,
    ) -> Result<Option<usize>, OlxError> {
        let location = element_location(doc, file, node);
        if depth > MAX_DEPTH {
            return Err(invalid(
                location,
                format!("blocks nested more than {MAX_DEPTH} deep"),
            ));
        }
        let tag = node.tag_name().name();
        let is_root = parent.is_none();
        if is_pointer(node) {
            let url_name = node.attribute("url_name").unwrap_or_default().to_string();
            self.check_url_name(tag, &url_name, &location)?;
            let target = pointer_path(tag, &url_name);
            let Some(text) = file_text(self.files, &target)? else {
                return Err(OlxError::MissingPointerTarget {
                    location,
                    tag: tag.to_string(),
                    url_name,
                    target,
                });
            };
            let target_doc = parse_xml(&target, text)?;
            let def = target_doc.root_element();
            if def.tag_name().name() != tag {
                return Err(invalid(
                    element_location(&target_doc, &target, def),
                    format!(
                        "root element is <{}>, but it is loaded as <{tag}> by {location}",
                        def.tag_name().name()
                    ),
                ));
            }
            if self.is_duplicate(tag, &url_name, &location) {
                return Ok(None);
            }
            self.loaded.insert(target.clone());
            let def_location = element_location(&target_doc, &target, def);
            let definition = Definition {
                node: def,
                doc: &target_doc,
                file: &target,
            };
            self.build(
                tag,
                url_name,
                definition,
                def_location,
                parent,
                inherited,
                depth,
            )
        } else {
            let url_name = match node.attribute("url_name") {
                Some(name) => name.to_string(),
                None if is_root => {
                    return Err(invalid(location, format!("<{tag}> has no url_name")));
                }
                None => {
                    let source = &doc.input_text()[node.range()];
                    let digest = hex::encode(Md5::digest(source.as_bytes()));
                    let name = format!("{tag}_{}", &digest[..12]);
                    self.warnings.push(Warning {
                        kind: WarningKind::GeneratedUrlName,
                        location: Some(location.clone()),
                        message: format!(
                            "inline <{tag}> has no url_name; using {name:?}, which may differ from the id Open edX generated"
                        ),
                    });
                    name
                }
            };
            self.check_url_name(tag, &url_name, &location)?;
            if self.is_duplicate(tag, &url_name, &location) {
                return Ok(None);
            }
            let definition = Definition { node, doc, file };
            self.build(
                tag, url_name, definition, location, parent, inherited, depth,
            )
        }
    }

    fn check_url_name(
        &self,
        tag: &str,
        url_name: &str,
        location: &SourceLocation,
    ) -> Result<(), OlxError> {
        if !is_valid_block_id(url_name) {
            return Err(invalid(
                location.clone(),
                format!(
                    "<{tag}> url_name={url_name:?} is not a valid block id (allowed: letters, digits, _ - ~ . : %)"
                ),
            ));
        }
        if tag.is_empty() || !tag.chars().all(is_id_char) {
            return Err(invalid(
                location.clone(),
                format!("<{tag}> is not a valid block type"),
            ));
        }
        Ok(())
    }

    /// A block type + url_name seen before is skipped with a warning: Open
    /// edX keeps one block per key, and a repeated pointer would otherwise
    /// duplicate (or, in a cycle, endlessly repeat) a subtree.
    fn is_duplicate(&mut self, tag: &str, url_name: &str, location: &SourceLocation) -> bool {
        if self.seen.insert((tag.to_string(), url_name.to_string())) {
            return false;
        }
        self.warnings.push(Warning {
            kind: WarningKind::DuplicateBlock,
            location: Some(location.clone()),
            message: format!(
                "<{tag} url_name=\"{url_name}\"> is defined more than once; this one is skipped"
            ),
        });
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        &mut self,
        tag: &str,
        url_name: String,
        def: Definition<'_, '_, 'f>,
        location: SourceLocation,
        parent: Option<usize>,
        inherited: &Map<String, Value>,
        depth: usize,
    ) -> Result<Option<usize>, OlxError> {
        let mut raw = inherited.clone();
        for attr in def.node.attributes() {
            let name = attr.name();
            let course_identity = tag == "course" && matches!(name, "org" | "course");
            let library_identity = tag == "library" && matches!(name, "org" | "library");
            if name == "url_name" || course_identity || library_identity {
                continue;
            }
            raw.insert(name.to_string(), attr_value(attr.value()));
        }
        let policy_key = format!("{tag}/{url_name}");
        if let Some(Value::Object(overrides)) = self.policy.get(&policy_key) {
            self.used_policy.insert(policy_key);
            for (k, v) in overrides {
                raw.insert(k.clone(), v.clone());
            }
        }
        let mut bad = Vec::new();
        let settings = Settings::from_raw(raw, &mut |name, value| {
            bad.push(format!(
                "setting {name}={value} is not a valid value; treated as unset"
            ));
        });
        for message in bad {
            self.warnings.push(Warning {
                kind: WarningKind::InvalidSetting,
                location: Some(location.clone()),
                message,
            });
        }
        let display_name = match settings.raw.get("display_name") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        if tag == "html" {
            self.check_html_body(&settings, &location);
        }

        let key = self.key.make_usage_key(tag, url_name.clone());
        let problem_xml =
            (tag == "problem").then(|| def.doc.input_text()[def.node.range()].to_string());
        let index = self.blocks.len();
        self.blocks.push(Block {
            usage_key: key.block_v1_string(),
            legacy_key: key.i4x_string(),
            html_id: key.html_id(),
            block_type: tag.to_string(),
            url_name,
            parent: parent.map(|p| self.blocks[p].usage_key.clone()),
            children: Vec::new(),
            display_name,
            settings,
            problem_xml,
            source: location,
        });

        if CONTAINERS.contains(&tag) {
            let for_children = self.blocks[index].settings.inheritable();
            let mut children = Vec::new();
            for child in def.node.children().filter(Node::is_element) {
                if is_non_block_child(tag, child.tag_name().name()) {
                    continue;
                }
                if let Some(child_index) = self.visit(
                    child,
                    def.doc,
                    def.file,
                    Some(index),
                    &for_children,
                    depth + 1,
                )? {
                    children.push(self.blocks[child_index].usage_key.clone());
                }
            }
            self.blocks[index].children = children;
        }
        Ok(Some(index))
    }

    /// An `html` block keeps its body in `html/<filename>.html`; a missing
    /// body does not affect grading, so it is only reported.
    fn check_html_body(&mut self, settings: &Settings, location: &SourceLocation) {
        let Some(Value::String(filename)) = settings.raw.get("filename") else {
            return;
        };
        let candidates = [format!("html/{filename}.html"), format!("html/{filename}")];
        if !candidates.iter().any(|c| self.files.contains_key(c)) {
            self.warnings.push(Warning {
                kind: WarningKind::MissingHtmlBody,
                location: Some(location.clone()),
                message: format!("html body {} is missing", candidates[0]),
            });
        }
    }

    fn report_unmatched_policy(&mut self) {
        let Some((path, text)) = self.policy_file.clone() else {
            return;
        };
        let unmatched: Vec<String> = self
            .policy
            .keys()
            .filter(|k| !self.used_policy.contains(*k))
            .cloned()
            .collect();
        for key in unmatched {
            let (line, col) = key_position(text, &key);
            self.warnings.push(Warning {
                kind: WarningKind::UnmatchedPolicyKey,
                location: Some(SourceLocation::at(&path, line, col)),
                message: format!("policy key {key:?} matches no block in the course; ignored"),
            });
        }
    }

    /// Reports `.xml` files in a block-type folder (one named after a type
    /// the course uses, like `problem/`) that nothing points to. Other
    /// folders may hold anything (notes, fixes, tooling) and are not checked.
    fn report_orphans(&mut self) {
        let types: HashSet<&str> = self.blocks.iter().map(|b| b.block_type.as_str()).collect();
        let orphans: Vec<String> = self
            .files
            .keys()
            .filter(|path| {
                let mut parts = path.splitn(2, '/');
                let top = parts.next().unwrap_or_default();
                parts.next().is_some()
                    && path.ends_with(".xml")
                    && types.contains(top)
                    && !NON_BLOCK_DIRS.contains(&top)
                    && !self.loaded.contains(*path)
            })
            .cloned()
            .collect();
        for path in orphans {
            self.warnings.push(Warning {
                kind: WarningKind::OrphanFile,
                location: Some(SourceLocation::file(&path)),
                message: "no element in the course points to this file; ignored".to_string(),
            });
        }
    }
}

/// Line and column of the last `"key":` in a JSON text (the last, because
/// with duplicate keys the last one is the one that counts), or 1:1.
fn key_position(text: &str, key: &str) -> (u32, u32) {
    let needle = serde_json::to_string(key).unwrap_or_default();
    let found = text
        .rmatch_indices(&needle)
        .find(|(i, _)| text[i + needle.len()..].trim_start().starts_with(':'));
    match found {
        Some((i, _)) => line_col(text, i),
        None => (1, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_detection_follows_open_edx() {
        let doc = Document::parse(
            r#"<r><problem url_name="a"/><problem url_name="a"> </problem><problem url_name="a" weight="1"/><problem url_name="a"><!-- c --></problem><course url_name="r" org="o" course="c"/><course url_name="r"/></r>"#,
        )
        .unwrap();
        let got: Vec<bool> = doc
            .root_element()
            .children()
            .filter(Node::is_element)
            .map(is_pointer)
            .collect();
        assert_eq!(got, vec![true, true, false, false, true, false]);
    }

    #[test]
    fn key_positions() {
        let text = "{\n  \"a/b\": {},\n  \"a/b\": {\"x\": 1}\n}";
        assert_eq!(key_position(text, "a/b"), (3, 3));
        assert_eq!(key_position(text, "zzz"), (1, 1));
    }

    #[test]
    fn colon_url_names_map_to_folders() {
        assert_eq!(
            pointer_path("html", "secret:toylab"),
            "html/secret/toylab.xml"
        );
    }
}
