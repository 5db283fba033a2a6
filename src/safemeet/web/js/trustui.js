/**
 * The trust part of the page: the contacts list, the safety number dialog (digits, QR code,
 * typed or scanned comparison, `Mark verified`) and the `Safety number changed` alert dialog.
 * DOM and the contact store only; safety numbers come from safety.js, codes from qr.js.
 * @module trustui
 */

import { b64uDecode } from './b64.js';
import {
  MAX_NAME, contactEvents, deleteContact, getContact, listContacts, markVerified, renameContact,
} from './contacts.js';
import { formatNumber } from './numbers.js';
import { Scanner, qrImageSrc } from './qr.js';
import { groups, matches, parseQrText, qrText, safetyNumber } from './safety.js';

const $ = (doc, id) => doc.getElementById(id);

/**
 * Wire the contacts list and the trust dialogs to a phone.
 * @param {Document} doc
 * @param {import('./phone.js').Phone} phone
 * @returns {{showSafety: (number: string) => Promise<void>}}
 */
export function mountTrust(doc, phone) {
  const safety = safetyDialog(doc, phone);
  const keyChange = keyChangeDialog(doc, phone);
  const list = $(doc, 'contacts-list');
  const empty = $(doc, 'contacts-empty');

  const render = async () => {
    const contacts = await listContacts();
    list.replaceChildren(...contacts.map((c) => contactItem(doc, c, safety.open, async () => {
      await deleteContact(c.number);
      phone.forgetKeys(c.number);
    })));
    empty.hidden = contacts.length > 0;
  };
  contactEvents.addEventListener('change', () => render().catch((e) => console.warn('contacts:', e?.name)));
  render().catch((e) => console.warn('contacts:', e?.name));

  $(doc, 'verify-button').addEventListener('click', () => {
    if (phone.call) safety.open(phone.call.peer);
  });
  phone.addEventListener('key-change', (e) => keyChange.open(e.detail));
  return { showSafety: safety.open };
}

function contactItem(doc, contact, verify, forget) {
  const li = doc.createElement('li');
  li.className = 'contact';
  const id = `contact-${contact.number}`;
  const who = doc.createElement('span');
  who.className = 'contact-who';
  who.id = id;
  const number = doc.createElement('span');
  number.className = 'contact-number';
  number.textContent = formatNumber(contact.number);
  if (contact.name) {
    const name = doc.createElement('bdi');
    name.className = 'contact-name';
    name.textContent = contact.name;
    who.append(name, ' ');
  }
  who.append(number);
  const badge = doc.createElement('span');
  badge.className = contact.verified ? 'badge badge-ok' : 'badge';
  badge.textContent = contact.verified ? 'Verified' : 'Not verified';
  const actions = doc.createElement('span');
  actions.className = 'contact-actions';
  const buttons = [
    button(doc, 'Verify', () => verify(contact.number)),
    button(doc, 'Rename', () => actions.replaceChildren(renameForm(doc, contact))),
    button(doc, 'Forget', forget),
  ];
  for (const b of buttons) b.setAttribute('aria-describedby', id);
  actions.append(...buttons);
  li.append(who, badge, actions);
  return li;
}

/** Inline form naming a contact; saving re-renders the list (contactEvents). */
function renameForm(doc, contact) {
  const form = doc.createElement('form');
  form.className = 'rename-form';
  const input = doc.createElement('input');
  input.className = 'text-input';
  input.maxLength = MAX_NAME;
  input.value = contact.name;
  input.setAttribute('aria-label', `Name for ${formatNumber(contact.number)}`);
  const save = button(doc, 'Save', () => {});
  save.type = 'submit';
  form.append(input, save, button(doc, 'Cancel', () => renameContact(contact.number, contact.name)));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    renameContact(contact.number, input.value).catch((err) => console.warn('rename:', err?.name));
  });
  setTimeout(() => input.focus());
  return form;
}

function button(doc, text, onClick) {
  const b = doc.createElement('button');
  b.type = 'button';
  b.className = 'btn btn-small';
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

/** The keys the safety number is made from: the pinned ones, else (in a call) the node's. */
async function peerKeys(phone, number) {
  return (await getContact(number))?.keys ?? phone.keysFor(number);
}

function safetyDialog(doc, phone) {
  const el = {
    dialog: $(doc, 'safety-dialog'), peer: $(doc, 'safety-peer'), state: $(doc, 'safety-state'),
    digits: $(doc, 'safety-digits'), qr: $(doc, 'safety-qr'), form: $(doc, 'safety-form'),
    input: $(doc, 'safety-input'), error: $(doc, 'safety-error'), scan: $(doc, 'scan-button'),
    scanBox: $(doc, 'safety-scan'), video: $(doc, 'scan-video'), stop: $(doc, 'scan-stop'),
    close: $(doc, 'safety-close'),
  };
  let current = null; // {number, keys, digits}
  let scanner = null;

  const stopScan = () => {
    scanner?.stop();
    scanner = null;
    el.scanBox.hidden = true;
    el.scan.disabled = false;
  };
  const showState = async () => {
    const contact = current && (await getContact(current.number));
    el.state.textContent = contact?.verified ? 'Verified' : 'Not verified yet';
    el.state.dataset.verified = String(!!contact?.verified);
  };
  const verify = async (typed) => {
    el.error.textContent = '';
    if (!current?.digits) return;
    if (!matches(current.digits, typed)) {
      el.error.textContent = 'Safety numbers do not match';
      return;
    }
    await markVerified(current.number, current.keys);
    el.input.value = '';
    await showState();
  };

  el.input.addEventListener('input', () => { el.error.textContent = ''; });
  el.form.addEventListener('submit', (e) => {
    e.preventDefault();
    verify(el.input.value).catch((err) => { el.error.textContent = err.message; });
  });
  el.close.addEventListener('click', () => el.dialog.close());
  el.dialog.addEventListener('close', () => {
    stopScan();
    current = null;
  });
  el.stop.addEventListener('click', stopScan);
  el.scan.addEventListener('click', async () => {
    el.error.textContent = '';
    stopScan();
    el.scanBox.hidden = false;
    el.scan.disabled = true;
    scanner = new Scanner(el.video, (text) => {
      const digits = parseQrText(text);
      if (digits === null) return false;
      verify(digits).catch((err) => { el.error.textContent = err.message; });
      setTimeout(stopScan);
      return true;
    });
    const s = scanner;
    try {
      await s.start();
    } catch (err) {
      if (scanner === s) stopScan();
      el.error.textContent = `The camera cannot be used: ${err?.message ?? err}`;
    }
  });

  /** Open the dialog for `number`; the digits appear once computed. */
  const open = async (number) => {
    current = { number, keys: null, digits: null };
    const mine = current;
    el.peer.textContent = formatNumber(number);
    el.digits.replaceChildren();
    el.digits.setAttribute('aria-busy', 'true');
    el.qr.hidden = true;
    el.qr.removeAttribute('src');
    el.input.value = '';
    el.error.textContent = '';
    el.state.textContent = '';
    if (!el.dialog.open) el.dialog.showModal();
    try {
      const keys = await peerKeys(phone, number);
      const me = phone.identity;
      const digits = await safetyNumber(me.number, me.sigPublic, number, b64uDecode(keys.sig, 32));
      if (current !== mine) return;
      Object.assign(mine, { keys, digits });
      el.digits.replaceChildren(...groups(digits).map((g) => Object.assign(doc.createElement('span'), { textContent: g })));
      el.digits.removeAttribute('aria-busy');
      el.qr.src = await qrImageSrc(qrText(digits));
      el.qr.hidden = false;
      await showState();
    } catch (err) {
      if (current === mine) el.error.textContent = `No safety number: ${err?.message ?? err}`;
    }
  };
  return { open };
}

function keyChangeDialog(doc, phone) {
  const el = {
    dialog: $(doc, 'keychange-dialog'), text: $(doc, 'keychange-text'),
    accept: $(doc, 'keychange-accept'), cancel: $(doc, 'keychange-cancel'), close: $(doc, 'keychange-close'),
  };
  let change = null;
  el.accept.addEventListener('click', async () => {
    const c = change;
    el.dialog.close();
    if (c) await phone.acceptNewKeys(c.number, c.keys).catch((e) => console.warn('key not accepted:', e?.code));
  });
  el.cancel.addEventListener('click', () => el.dialog.close());
  el.close.addEventListener('click', () => el.dialog.close());
  el.dialog.addEventListener('close', () => { change = null; });

  const open = ({ number, verified, keys, role }) => {
    if (el.dialog.open && change?.number === number) return;
    change = { number, keys };
    const who = formatNumber(number);
    const stopped = role === 'callee'
      ? `A call from ${who} was not let through: nothing was answered and no camera or microphone was used.`
      : 'The call was stopped before anything was sent.';
    el.text.textContent = verified
      ? `You verified the safety number of ${who}, and the keys the node now gives for that number ` +
        `are different. This may mean someone is trying to listen in. ${stopped} To talk again, ` +
        'compare safety numbers with them in person; if they got a new device, forget the contact ' +
        'under Contacts and verify the new number.'
      : `The keys the node gives for ${who} are not the ones you talked with before. Maybe they ` +
        `reinstalled safemeet or moved to a new device, or someone is trying to listen in. ${stopped} ` +
        'Accept the new key only if you expected this, and verify their safety number afterwards.';
    el.accept.hidden = verified;
    el.cancel.hidden = verified;
    el.close.hidden = !verified;
    if (!el.dialog.open) el.dialog.showModal();
    (verified ? el.close : el.cancel).focus();
  };
  return { open };
}
