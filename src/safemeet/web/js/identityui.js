/**
 * The "Your identity" card: `Export identity` (passphrase twice → safemeet-identity.json),
 * `Import identity` (file + passphrase, then `Replace identity`) and `Delete identity` (confirm,
 * delete at the node, wipe the device, start afresh). Formats live in backup.js.
 * @module identityui
 */

import { BackupError, makeExportableIdentity, openBackup, sealBackup, unwrapSecrets } from './backup.js';
import { exportKeys } from './identity.js';
import { saveIdentity, wipeDevice } from './keystore.js';
import { formatNumber } from './numbers.js';

const $ = (doc, id) => doc.getElementById(id);

/** The downloaded file's name. */
export const BACKUP_FILE = 'safemeet-identity.json';

/**
 * @typedef {{
 *   identity: import('./identity.js').Identity & {backup?: object|null},
 *   signaling: () => import('./signaling.js').Signaling|null,
 *   halt: () => void, restart: () => void,
 * }} Session  what main.js shares with this card
 */

/**
 * Wire the identity card and its dialogs.
 * @param {Document} doc
 * @param {Session} session
 */
export function mountIdentity(doc, session) {
  const confirm = confirmDialog(doc);
  const error = $(doc, 'device-error');
  exportFlow(doc, session);
  importFlow(doc, session, confirm);
  $(doc, 'delete-button').addEventListener('click', async () => {
    error.textContent = '';
    const number = formatNumber(session.identity.number ?? '');
    const yes = await confirm('Delete identity',
      `Your number ${number} and its keys are removed from the node and from this device, with your ` +
      'contacts. Nobody can reach you on it again. A new number is made afterwards.');
    if (!yes) return;
    const signaling = session.signaling();
    if (!signaling || signaling.closed) {
      error.textContent = 'Cannot reach the node right now; nothing was deleted.';
      return;
    }
    session.halt();
    try {
      await signaling.deleteIdentity(session.identity);
    } catch (e) {
      error.textContent = `The node did not delete the identity (${e?.code ?? e?.name}); nothing was deleted.`;
      session.restart();
      return;
    }
    await wipeDevice();
    doc.defaultView.location.reload();
  });
}

function exportFlow(doc, session) {
  const el = {
    dialog: $(doc, 'export-dialog'), form: $(doc, 'export-form'), pass: $(doc, 'export-pass'),
    pass2: $(doc, 'export-pass2'), error: $(doc, 'export-error'), status: $(doc, 'export-status'),
    submit: $(doc, 'export-submit'),
  };
  $(doc, 'export-button').addEventListener('click', () => {
    el.form.reset();
    el.error.textContent = el.status.textContent = '';
    el.submit.disabled = false;
    el.dialog.showModal();
  });
  $(doc, 'export-cancel').addEventListener('click', () => el.dialog.close());
  el.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    el.error.textContent = '';
    if (!el.pass.value) return void (el.error.textContent = 'Choose a passphrase.');
    if (el.pass.value !== el.pass2.value) return void (el.error.textContent = 'The passphrases do not match.');
    el.submit.disabled = true;
    el.status.textContent = 'Sealing the backup…';
    try {
      const secrets = await unwrapSecrets(session.identity);
      if (!secrets) throw new Error('This identity was made before backups existed and cannot be exported.');
      const file = await sealBackup(secrets, el.pass.value);
      secrets.ed25519.fill(0);
      secrets.x25519.fill(0);
      download(doc, JSON.stringify(file, null, 1));
      el.dialog.close();
    } catch (err) {
      el.error.textContent = err.message;
      el.status.textContent = '';
      el.submit.disabled = false;
    }
  });
}

function download(doc, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = doc.createElement('a');
  a.href = url;
  a.download = BACKUP_FILE;
  a.hidden = true;
  doc.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function importFlow(doc, session, confirm) {
  const el = {
    dialog: $(doc, 'import-dialog'), form: $(doc, 'import-form'), file: $(doc, 'import-file'),
    pass: $(doc, 'import-pass'), error: $(doc, 'import-error'), status: $(doc, 'import-status'),
    submit: $(doc, 'import-submit'),
  };
  $(doc, 'import-button').addEventListener('click', () => {
    el.form.reset();
    el.error.textContent = el.status.textContent = '';
    el.submit.disabled = false;
    el.dialog.showModal();
  });
  $(doc, 'import-cancel').addEventListener('click', () => el.dialog.close());
  for (const input of [el.file, el.pass]) input.addEventListener('input', () => { el.error.textContent = ''; });
  el.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    el.error.textContent = '';
    const file = el.file.files?.[0];
    if (!file) return void (el.error.textContent = 'Choose the backup file.');
    el.submit.disabled = true;
    el.status.textContent = 'Opening the backup…';
    let identity;
    try {
      let obj;
      try {
        obj = JSON.parse(await file.text());
      } catch {
        throw new BackupError('not a safemeet backup file');
      }
      identity = await makeExportableIdentity(await openBackup(obj, el.pass.value));
    } catch (err) {
      el.error.textContent = err instanceof BackupError ? `Cannot import: ${err.message}.` : err.message;
      el.status.textContent = '';
      el.submit.disabled = false;
      return;
    }
    el.dialog.close();
    if (JSON.stringify(exportKeys(identity)) === JSON.stringify(exportKeys(session.identity))) return;
    const yes = await confirm('Replace identity',
      `This device's identity (number ${formatNumber(session.identity.number ?? '')}) is replaced by the ` +
      'one in the backup. Unless you saved a backup of it, the current number is lost for good.');
    if (!yes) return;
    session.halt();
    await saveIdentity(identity);
    doc.defaultView.location.reload();
  });
}

/** A modal yes/no question; resolves true when the user confirms. */
function confirmDialog(doc) {
  const el = {
    dialog: $(doc, 'confirm-dialog'), title: $(doc, 'confirm-title'), text: $(doc, 'confirm-text'),
    yes: $(doc, 'confirm-yes'), no: $(doc, 'confirm-no'),
  };
  let answer = null;
  el.yes.addEventListener('click', () => { answer?.(true); el.dialog.close(); });
  el.no.addEventListener('click', () => el.dialog.close());
  el.dialog.addEventListener('close', () => { answer?.(false); answer = null; });
  return (title, text) => new Promise((resolve) => {
    answer?.(false);
    answer = resolve;
    el.title.textContent = title;
    el.yes.textContent = title;
    el.text.textContent = text;
    el.dialog.showModal();
    el.no.focus();
  });
}
