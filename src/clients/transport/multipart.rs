//! A `multipart/form-data` body (RFC 7578): text fields and one file, as KubeFATE's chart
//! upload and FATE Flow's data upload take them.

/// Long and fixed: fatelab's CSV tables have no such line, and a gzip'd chart holding these
/// 29 bytes by chance is not a risk worth a random boundary (which would make bodies differ per run).
const BOUNDARY: &str = "fatelab-form-boundary-7c1e9a";

pub struct Form<'a> {
    fields: Vec<(&'a str, String)>,
    file: Option<(&'a str, &'a str, &'a str, &'a [u8])>,
}

impl<'a> Form<'a> {
    pub fn new() -> Self {
        Form {
            fields: Vec::new(),
            file: None,
        }
    }

    pub fn text(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.fields.push((name, value.into()));
        self
    }

    /// The file part: field name, file name, content type, bytes.
    pub fn file(
        mut self,
        name: &'a str,
        file_name: &'a str,
        content_type: &'a str,
        bytes: &'a [u8],
    ) -> Self {
        self.file = Some((name, file_name, content_type, bytes));
        self
    }

    /// The content type (with its boundary) and the body.
    pub fn encode(&self) -> (String, Vec<u8>) {
        let mut body = Vec::new();
        for (name, value) in &self.fields {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        if let Some((name, file_name, content_type, bytes)) = self.file {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                     Content-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={BOUNDARY}"), body)
    }
}

impl Default for Form<'_> {
    fn default() -> Self {
        Form::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_then_the_file_then_the_end() {
        let (ct, body) = Form::new()
            .text("name", "breast_hetero_guest")
            .file("file", "t.csv", "text/csv", b"id,y\n1,0\n")
            .encode();
        assert_eq!(ct, format!("multipart/form-data; boundary={BOUNDARY}"));
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text,
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nbreast_hetero_guest\r\n\
                 --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.csv\"\r\n\
                 Content-Type: text/csv\r\n\r\nid,y\n1,0\n\r\n--{BOUNDARY}--\r\n"
            )
        );
    }
}
