use super::*;

fn joe() -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnAttribute::Country, "US").unwrap();
    dn.push(DnAttribute::StateOrProvince, "VA").unwrap();
    dn.push(DnAttribute::Organization, "Joe Corp").unwrap();
    dn.push(DnAttribute::OrganizationalUnit, "Test").unwrap();
    dn.push(DnAttribute::CommonName, "Joe Doe").unwrap();
    dn
}

#[test]
fn three_forms_agree() {
    let expected = joe();
    for input in [
        "C=US;S=VA;O=Joe Corp;OU=Test;CN=Joe Doe",
        "C=US; ST=VA; O=Joe Corp; OU=Test; CN=Joe Doe;",
        "CN=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US",
        "CN=Joe Doe, OU=Test, O=Joe Corp, ST=VA, C=US",
        "cn=Joe Doe,ou=Test,o=Joe Corp,st=VA,c=US",
        "C=\"US\" S=\"VA\" O=\"Joe Corp\" OU=\"Test\" CN=\"Joe Doe\"",
        "C=US ST=VA O=Joe Corp OU=Test CN=Joe Doe",
        "2.5.4.3=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US",
    ] {
        assert_eq!(
            DistinguishedName::parse(input).unwrap(),
            expected,
            "{input}"
        );
    }
    assert_eq!(
        expected.to_rfc4514(),
        "CN=Joe Doe,OU=Test,O=Joe Corp,ST=VA,C=US"
    );
}

#[test]
fn rec_example() {
    let dn = DistinguishedName::parse("C=\"US\" O=\"Alice Corp\" CN=\"Alice Aardvark\"").unwrap();
    assert_eq!(dn.to_rfc4514(), "CN=Alice Aardvark,O=Alice Corp,C=US");
    assert_eq!(dn.rdns()[0].0, DnAttribute::Country);
    // A comma or semicolon inside quotes does not switch the form.
    let dn = DistinguishedName::parse("O=\"Doe, Inc.; Ltd\" CN=\"Joe\"").unwrap();
    assert_eq!(dn.get(DnAttribute::Organization), Some("Doe, Inc.; Ltd"));
    assert_eq!(dn.rdns()[1].0, DnAttribute::CommonName);
}

#[test]
fn rfc4514_escapes() {
    let dn =
        DistinguishedName::parse(r#"CN=Doe\, Joe \+ \"Jr\" \\ x\2C y,O=Caf\C3\A9,OU=\#1\ ,L=\ a"#)
            .unwrap();
    assert_eq!(
        dn.get(DnAttribute::CommonName),
        Some(r#"Doe, Joe + "Jr" \ x, y"#)
    );
    assert_eq!(dn.get(DnAttribute::Organization), Some("Café"));
    assert_eq!(dn.get(DnAttribute::OrganizationalUnit), Some("#1 "));
    assert_eq!(dn.get(DnAttribute::Locality), Some(" a"));
    let printed = dn.to_rfc4514();
    assert_eq!(
        printed,
        r#"CN=Doe\, Joe \+ \"Jr\" \\ x\, y,O=Café,OU=\#1\ ,L=\ a"#
    );
    assert_eq!(DistinguishedName::parse(&printed).unwrap(), dn);
}

#[test]
fn other_attributes() {
    let dn = DistinguishedName::parse(
        "DC=example;E=joe@example.com;SERIALNUMBER=42;STREET=1 Main St;T=Dr;GN=Joe;SN=Doe;L=Here",
    )
    .unwrap();
    assert_eq!(
        dn.to_rfc4514(),
        "L=Here,SN=Doe,GN=Joe,title=Dr,street=1 Main St,serialNumber=42,emailAddress=joe@example.com,DC=example"
    );
    dn.to_rcgen().unwrap();
}

#[test]
fn errors_do_not_echo_input() {
    for bad in [
        "garbage-with-secret",
        "CN=a+OU=secret",
        "XX=secret",
        "CN=\"secret",
        "CN=secret\\",
        "CN=secret,,O=x",
        "C=USA;CN=secret",
        "CN=\"secret\" trailing,O=x",
        "CN=#0403736563726574",
        "CN=\\FF\\FEsecret",
        "CN=dup;CN=secret",
        "CN=a\u{7}secret",
    ] {
        let err = DistinguishedName::parse(bad).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, CaError::InvalidName { .. }), "{bad}");
        assert!(!msg.contains("secret"), "{msg}");
    }
    assert!(DistinguishedName::parse("  ").unwrap().is_empty());
}
