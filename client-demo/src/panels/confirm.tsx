import { t } from '../i18n.ts';

/** An action that cannot be undone, asked once more: the question, the action by its name, and 取消. */
export function AskAgain({
  question,
  action,
  onConfirm,
  onCancel,
}: {
  question: string;
  action: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <div class="row" role="alertdialog" aria-label={question}>
      <p>{question}</p>
      <button type="button" class="off" onClick={onConfirm}>
        {action}
      </button>
      <button type="button" onClick={onCancel}>
        {t('court.cancel')}
      </button>
    </div>
  );
}
